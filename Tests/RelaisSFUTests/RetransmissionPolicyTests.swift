import RelaisWire
import Testing

@testable import RelaisSFU

@Suite("Retransmission policy")
struct RetransmissionPolicyTests {
    // MARK: Gate

    @Test func aSequenceIsAnsweredOncePerRoundTrip() {
        var gate = RetransmissionGate()
        let interval = RetransmissionGate.interval(roundTrip: nil)
        #expect(interval == .milliseconds(100))
        do { let admitted = gate.admit(SequenceNumber(7), now: ms(1000), interval: interval); #expect(admitted) }
        // The same number again in the same NACK (same instant), and before the interval ends.
        do { let admitted = gate.admit(SequenceNumber(7), now: ms(1000), interval: interval); #expect(!admitted) }
        do { let admitted = gate.admit(SequenceNumber(7), now: ms(1099), interval: interval); #expect(!admitted) }
        do { let admitted = gate.admit(SequenceNumber(8), now: ms(1099), interval: interval); #expect(admitted) }
        do { let admitted = gate.admit(SequenceNumber(7), now: ms(1100), interval: interval); #expect(admitted) }
        // 7 + 1024 shares the slot: a different number is not held back by 7's answer.
        do { let admitted = gate.admit(SequenceNumber(7 + 1024), now: ms(1101), interval: interval); #expect(admitted) }
    }

    @Test func theIntervalFollowsTheRoundTripWithinBounds() {
        #expect(RetransmissionGate.interval(roundTrip: .milliseconds(250)) == .milliseconds(250))
        // A receiver computes RTT from its own DLSR: a forged tiny RTT cannot open the gate.
        #expect(RetransmissionGate.interval(roundTrip: .microseconds(10)) == RetransmissionGate.minimumInterval)
        #expect(RetransmissionGate.interval(roundTrip: .seconds(30)) == RetransmissionGate.maximumInterval)
    }

    @Test func zeroInstantIsNotMistakenForAnEmptySlot() {
        var gate = RetransmissionGate()
        do { let admitted = gate.admit(SequenceNumber(0), now: .zero, interval: .milliseconds(100)); #expect(admitted) }
        do { let admitted = gate.admit(SequenceNumber(0), now: .zero, interval: .milliseconds(100)); #expect(!admitted) }
    }

    // MARK: Budget

    @Test func theBudgetIsAShareOfForwardedBytesPlusAFloor() {
        var budget = RetransmissionBudget()
        budget.update(forwardedTotal: 0, now: ms(10_000))
        #expect(budget.allowance == 6_000)
        budget.update(forwardedTotal: 100_000, now: ms(10_050))
        #expect(budget.forwardedInWindow == 100_000)
        #expect(budget.allowance == 26_000)
        do { let admitted = budget.admit(bytes: 20_000); #expect(admitted) }
        do { let admitted = budget.admit(bytes: 6_000); #expect(admitted) }
        do { let admitted = budget.admit(bytes: 1); #expect(!admitted) }
        #expect(budget.refused == 1)
        // A second later the window has moved past those bytes.
        budget.update(forwardedTotal: 100_000, now: ms(11_100))
        budget.update(forwardedTotal: 100_000, now: ms(12_200))
        #expect(budget.forwardedInWindow == 0)
        #expect(budget.retransmittedInWindow == 0)
        do { let admitted = budget.admit(bytes: 6_000); #expect(admitted) }
    }

    /// A subscriber of a 2.5 Mbit/s stream sends a NACK listing 8 000 sequence numbers 50 times a
    /// second for ten seconds (the abuse case). Whatever it asks, the relay retransmits at
    /// most the budget in every window, and the gate answers each number at most once per 100 ms.
    @Test func aNackFloodYieldsAtMostTheBudget() {
        var budget = RetransmissionBudget()
        var gate = RetransmissionGate()
        let packetBytes = 1_200
        let packetsPerSecond = 2_500_000 / 8 / packetBytes  // 260
        var forwarded = 0
        var sequence: UInt16 = 0
        var retransmittedAt: [(at: UInt64, bytes: Int)] = []
        var requests = 0
        var refusedByGate = 0
        var lastAnswered: [UInt16: UInt64] = [:]
        let start: UInt64 = 5_000
        for millisecond in start..<(start + 10_000) {
            let now = ms(millisecond)
            // Forwarding at a steady rate.
            if millisecond * UInt64(packetsPerSecond) / 1000 != (millisecond - 1) * UInt64(packetsPerSecond) / 1000 {
                forwarded += packetBytes
                sequence &+= 1
            }
            if millisecond % 50 == 0 { budget.update(forwardedTotal: forwarded, now: now) }
            guard millisecond % 20 == 0 else { continue }
            budget.update(forwardedTotal: forwarded, now: now)
            for k in 0..<8_000 {
                let requested = SequenceNumber(sequence &- UInt16(k % 1024))
                requests += 1
                guard gate.admit(requested, now: now, interval: RetransmissionGate.interval(roundTrip: nil)) else {
                    refusedByGate += 1
                    continue
                }
                if let previous = lastAnswered[requested.rawValue] {
                    #expect(now.nanoseconds - previous >= 100_000_000)
                }
                if budget.admit(bytes: packetBytes) {
                    retransmittedAt.append((now.nanoseconds, packetBytes))
                    lastAnswered[requested.rawValue] = now.nanoseconds
                }
            }
        }
        let forwardedPerSecond = packetsPerSecond * packetBytes
        let allowedPerSecond = forwardedPerSecond * 20 / 100 + 6_000
        // Every one-second span of answers stays within the budget (a window ends up to one bucket
        // later than the span it measures, so allow one bucket's worth of slack).
        for (index, answer) in retransmittedAt.enumerated() {
            let windowEnd = answer.at + 1_000_000_000
            var bytes = 0
            for later in retransmittedAt[index...] where later.at < windowEnd { bytes += later.bytes }
            #expect(bytes <= allowedPerSecond + allowedPerSecond / 10 + packetBytes)
        }
        let total = retransmittedAt.reduce(0) { $0 + $1.bytes }
        #expect(total <= 11 * allowedPerSecond)
        #expect(total >= 8 * forwardedPerSecond * 20 / 100)  // the budget is actually used
        #expect(refusedByGate > requests / 2)
        #expect(budget.refused > 0)
    }
}

@Suite("DownTrack output window")
struct DownTrackOutputWindowTests {
    static func packet(seq: UInt16, ssrc: UInt32 = 0xAAAA, fill: UInt8) -> [UInt8] {
        DownTrackTests.publisherPacket(
            ssrc: ssrc, seq: seq, ts: UInt32(seq) * 3000,
            payload: DownTrackTests.vp8Key + [UInt8](repeating: fill, count: 8), extensions: [])
    }

    @Test func aDuplicateOutputSequenceIsNeverForwardedTwice() {
        var track = DownTrackTests.videoTrack()
        for seq in UInt16(100)...120 {
            #expect(DownTrackTests.rewrite(&track, Self.packet(seq: seq, fill: 1), at: ms(UInt64(seq))).0 != .drop(.duplicate))
        }
        // The same numbers with other payloads (a hostile publisher that got past the receive
        // statistics) are refused: they would be protected under indices already used.
        #expect(DownTrackTests.rewrite(&track, Self.packet(seq: 120, fill: 2), at: ms(200)).0 == .drop(.duplicate))
        #expect(DownTrackTests.rewrite(&track, Self.packet(seq: 105, fill: 2), at: ms(200)).0 == .drop(.duplicate))
        #expect(track.drops.duplicate == 2)
        // A number skipped on the way is still new.
        #expect(DownTrackTests.rewrite(&track, Self.packet(seq: 125, fill: 1), at: ms(201)).0 == .forward(length: Self.packet(seq: 125, fill: 1).count))
        #expect(DownTrackTests.rewrite(&track, Self.packet(seq: 122, fill: 1), at: ms(202)).0 == .forward(length: Self.packet(seq: 122, fill: 1).count))
        #expect(DownTrackTests.rewrite(&track, Self.packet(seq: 122, fill: 3), at: ms(203)).0 == .drop(.duplicate))
    }

    @Test func anOutputOlderThanTheWindowIsRefused() {
        var track = DownTrackTests.videoTrack()
        _ = DownTrackTests.rewrite(&track, Self.packet(seq: 1, fill: 1), at: ms(0))
        _ = DownTrackTests.rewrite(&track, Self.packet(seq: 3000, fill: 1), at: ms(10))
        // 2000 was never sent, but it is 1000 behind: still inside the window, so it goes.
        #expect(DownTrackTests.rewrite(&track, Self.packet(seq: 2000, fill: 1), at: ms(11)).0 != .drop(.tooOld))
        #expect(DownTrackTests.rewrite(&track, Self.packet(seq: 1500, fill: 1), at: ms(12)).0 == .drop(.tooOld))
        #expect(track.drops.tooOld == 1)
    }

    @Test func aJumpForgetsWhatTheWindowNoLongerCovers() {
        var track = DownTrackTests.videoTrack()
        _ = DownTrackTests.rewrite(&track, Self.packet(seq: 10, fill: 1), at: ms(0))
        // 10 + 1024 lands on 10's bit: after the jump that bit stands for the new number.
        _ = DownTrackTests.rewrite(&track, Self.packet(seq: 10 + 1030, fill: 1), at: ms(1))
        #expect(DownTrackTests.rewrite(&track, Self.packet(seq: 10 + 1024, fill: 1), at: ms(2)).0 != .drop(.duplicate))
    }

    /// The NACK answer path reuses an SRTP index, so it must reproduce the original bytes: a cached
    /// packet of another SSRC, or for a number never forwarded, is refused.
    @Test func aRetransmissionOnlyReplaysWhatWasForwarded() {
        var track = DownTrackTests.videoTrack()
        var sent104: [UInt8] = []
        for seq in UInt16(100)...110 where seq != 105 {
            let (_, bytes) = DownTrackTests.rewrite(&track, Self.packet(seq: seq, fill: 1), at: ms(UInt64(seq)))
            if seq == 104 { sent104 = bytes }
        }
        func replay(_ packet: [UInt8], output: UInt16) -> [UInt8]? {
            var scratch = [UInt8](repeating: 0, count: 1500)
            scratch.replaceSubrange(0..<packet.count, with: packet)
            let n = scratch.withUnsafeMutableBytes { track.rewriteRetransmission($0, length: packet.count, outputSequence: SequenceNumber(output)) }
            return n.map { Array(scratch[0..<$0]) }
        }
        #expect(!sent104.isEmpty)
        #expect(replay(Self.packet(seq: 104, fill: 1), output: 104) == sent104)
        // 105 was never forwarded (lost before the relay): nothing to replay under its index.
        #expect(replay(Self.packet(seq: 105, fill: 1), output: 105) == nil)
        // A packet of another source with the right number.
        #expect(replay(Self.packet(seq: 104, ssrc: 0xBBBB, fill: 1), output: 104) == nil)
        // The wrong number for the output asked.
        #expect(replay(Self.packet(seq: 103, fill: 1), output: 104) == nil)
        #expect(track.packetsSent == 10)
    }
}
