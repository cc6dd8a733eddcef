import RelaisWire
import Testing

@testable import RelaisReceive

@Suite("NackGenerator")
struct NackGeneratorTests {
    static func due(_ nack: inout NackGenerator, at now: Instant, rtt: Duration = .milliseconds(50)) -> [UInt16] {
        var lost: [SequenceNumber] = []
        nack.due(now: now, rtt: rtt, into: &lost)
        return lost.map(\.rawValue)
    }

    @Test func aGapIsNackedAfterTheReorderWaitAndALatePacketClearsIt() {
        var nack = NackGenerator()
        for seq: UInt16 in [1, 2, 6] { nack.received(SequenceNumber(seq), now: ms(0)) }
        #expect(nack.missing.map(\.rawValue) == [3, 4, 5])
        #expect(nack.nextDeadline == ms(10))
        #expect(Self.due(&nack, at: ms(9)).isEmpty)  // still inside the reorder wait
        nack.received(SequenceNumber(4), now: ms(5))  // reordered, arrived before any NACK
        #expect(nack.reorderedBeforeNack == 1)
        #expect(Self.due(&nack, at: ms(10)) == [3, 5])
        nack.received(SequenceNumber(3), now: ms(40))  // retransmission
        #expect(nack.recovered == 1)
        #expect(nack.missing.map(\.rawValue) == [5])
    }

    /// The round trip comes from packets NACKed once and then received (Karn's rule: a packet asked
    /// for twice gives no sample), smoothed by 1/8.
    @Test func theNackRoundTripIsMeasuredFromSingleRequests() {
        var nack = NackGenerator()
        #expect(nack.roundTrip == nil)
        for seq: UInt16 in [1, 3] { nack.received(SequenceNumber(seq), now: ms(0)) }
        #expect(Self.due(&nack, at: ms(10)) == [2])
        nack.received(SequenceNumber(2), now: ms(130))  // 120 ms after its only NACK
        #expect(nack.roundTrip == .milliseconds(120))
        nack.received(SequenceNumber(6), now: ms(200))  // 4 and 5 missing
        #expect(Self.due(&nack, at: ms(210)) == [4, 5])
        nack.received(SequenceNumber(4), now: ms(250))  // 40 ms: 120 x 7/8 + 40 / 8 = 110
        #expect(nack.roundTrip == .milliseconds(110))
        #expect(Self.due(&nack, at: ms(270)) == [5])  // asked again: 5 gives no sample
        nack.received(SequenceNumber(5), now: ms(275))
        #expect(nack.roundTrip == .milliseconds(110))
    }

    @Test func gapsAcrossTheWrapAreInOrder() {
        var nack = NackGenerator()
        nack.received(SequenceNumber(65533), now: .zero)
        nack.received(SequenceNumber(2), now: .zero)
        #expect(Self.due(&nack, at: ms(10)) == [65534, 65535, 0, 1])
    }

    /// Retries every max(RTT, 20 ms) after the first at +10 ms, ten in all, then given up.
    @Test(arguments: [(Duration.milliseconds(50), UInt64(50)), (.milliseconds(5), 20)])
    func retrySchedule(rtt: Duration, interval: UInt64) {
        var nack = NackGenerator()
        nack.received(SequenceNumber(100), now: ms(1000))
        nack.received(SequenceNumber(102), now: ms(1000))
        var sentAt: [UInt64] = []
        var clock: UInt64 = 1000
        while clock < 3000 {
            if !Self.due(&nack, at: ms(clock), rtt: rtt).isEmpty { sentAt.append(clock - 1000) }
            clock += 1
        }
        let expected = (0..<10).map { 10 + UInt64($0) * interval }
        #expect(sentAt == expected)
        #expect(nack.nacksSent == 10)
        #expect(nack.givenUp == 1)
        #expect(nack.missingCount == 0)
        #expect(nack.nextDeadline == nil)
    }

    @Test func aHugeJumpResetsInsteadOfNackingThousands() {
        var nack = NackGenerator()
        nack.received(SequenceNumber(10), now: .zero)
        nack.received(SequenceNumber(12), now: .zero)
        nack.received(SequenceNumber(12 + 1002), now: .zero)  // 1001 skipped > 1000
        #expect(nack.resets == 1)
        #expect(nack.missingCount == 0)
        #expect(Self.due(&nack, at: ms(100)).isEmpty)
        nack.received(SequenceNumber(12 + 1002 + 1001), now: .zero)  // exactly 1000 skipped: a gap
        #expect(nack.resets == 1)
        #expect(nack.missingCount == 500)
    }

    @Test func theListIsBoundedAndTheOldestAreGivenUp() {
        var nack = NackGenerator()
        nack.received(SequenceNumber(0), now: .zero)
        nack.received(SequenceNumber(701), now: .zero)  // 700 missing
        #expect(nack.missingCount == 500)
        #expect(nack.givenUp == 200)
        #expect(nack.missing.first?.rawValue == 201)
        nack.received(SequenceNumber(703), now: .zero)  // one more gap pushes out the oldest
        #expect(nack.missingCount == 500)
        #expect(nack.givenUp == 201)
        #expect(nack.missing.first?.rawValue == 202)
        #expect(nack.missing.last?.rawValue == 702)
    }

    @Test func dueReusesTheCallersArray() {
        var nack = NackGenerator()
        nack.received(SequenceNumber(0), now: .zero)
        nack.received(SequenceNumber(40), now: .zero)
        var lost: [SequenceNumber] = []
        lost.reserveCapacity(600)
        let capacity = lost.capacity
        nack.due(now: ms(10), rtt: .zero, into: &lost)
        #expect(lost.count == 39)
        nack.due(now: ms(10), rtt: .zero, into: &lost)
        #expect(lost.isEmpty)  // emptied, nothing due again yet
        #expect(lost.capacity == capacity)
    }

    // MARK: Wire

    static func parseNACK(_ bytes: ArraySlice<UInt8>) throws -> (GenericNACK, [UInt16]) {
        try Array(bytes).withUnsafeBytes { raw in
            let header = try RTCPHeaderView(parsing: raw)
            #expect(header.byteLength == raw.count)
            let view = try GenericNACKView(header)
            return (GenericNACK(view), view.lostSequenceNumbers.map(\.rawValue))
        }
    }

    @Test func nackPacketDecodesWithTheWireParser() throws {
        let lost: [UInt16] = [100, 101, 105, 116, 117, 118, 200, 65535, 0]
        var buffer = [UInt8](repeating: 0xEE, count: 1200)
        let (written, covered) = buffer.withUnsafeMutableBytes { raw in
            NackGenerator.writeNACK(
                senderSSRC: SSRC(0xAAAA_0001), mediaSSRC: SSRC(0xBBBB_0002),
                sortedLost: lost.map { SequenceNumber($0) }, into: raw)
        }
        #expect(covered == lost.count)
        // 100 + bits for 101, 105, 116 (PID+16); 117 starts a new pair with 118; 200; 65535 with 0.
        #expect(written == 12 + 4 * 4)
        #expect(Array(buffer[0..<4]) == [0x81, 205, 0x00, 0x06])
        let (packet, decoded) = try Self.parseNACK(buffer[0..<written])
        #expect(packet.senderSSRC == SSRC(0xAAAA_0001))
        #expect(packet.mediaSSRC == SSRC(0xBBBB_0002))
        #expect(packet.pairs.first == NACKPair(packetID: SequenceNumber(100), lostBitmask: 0b1000_0000_0001_0001))
        #expect(decoded == lost)
        #expect(buffer[written] == 0xEE)  // nothing written past the packet
    }

    @Test func aSmallBufferGetsAsManyPairsAsFitAndReportsWhatItCovered() throws {
        let lost = (0..<10).map { SequenceNumber(UInt16($0 * 100)) }  // one pair each
        for size in 0..<80 {
            var buffer = [UInt8](repeating: 0xEE, count: size + 4)
            let (written, covered) = buffer.withUnsafeMutableBytes { raw in
                NackGenerator.writeNACK(
                    senderSSRC: SSRC(1), mediaSSRC: SSRC(2), sortedLost: lost,
                    into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]))
            }
            let fit = max(0, min(10, (size - 12) / 4))
            #expect(written == (fit == 0 ? 0 : 12 + 4 * fit))
            #expect(covered == fit)
            #expect(buffer[size..<(size + 4)].allSatisfy { $0 == 0xEE })
            if fit > 0 {
                let (_, decoded) = try Self.parseNACK(buffer[0..<written])
                #expect(decoded == lost.prefix(fit).map(\.rawValue))
            }
        }
    }
}
