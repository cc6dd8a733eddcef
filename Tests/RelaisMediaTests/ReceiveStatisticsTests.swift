import Foundation
import RelaisReceive
import RelaisWire
import Testing

@testable import RelaisMedia

@Suite("Receive statistics, receiver reports, audio playout")
struct ReceiveStatisticsTests {
    static func frameTime(_ n: Int, from start: UInt64 = 0) -> Instant {
        Instant(nanoseconds: start + UInt64(n) * 1_000_000_000 / 30)
    }

    @Test func framesPerSecondAndTimeToFirstFrame() {
        var stats = StreamStatistics(ssrc: SSRC(1), clockRate: 90_000, start: ms(1000))
        for n in 0..<60 { stats.recordFrame(at: Self.frameTime(n, from: 1_250_000_000)) }
        let snapshot = stats.snapshot(now: Self.frameTime(59, from: 1_250_000_000))
        #expect(snapshot.framesDecoded == 60)
        #expect(snapshot.framesPerSecond == 30)
        #expect(snapshot.timeToFirstFrameMilliseconds == 250)
        #expect(snapshot.freezeCount == 0 && snapshot.totalFreezeDurationMilliseconds == 0)
        #expect(abs(snapshot.longestFrameGapMilliseconds - 1000.0 / 30) < 0.001)
    }

    @Test func a300msGapAt30fpsIsOneFreezeOf300ms() {
        var stats = StreamStatistics(ssrc: SSRC(1), clockRate: 90_000, start: .zero)
        for n in 0..<30 { stats.recordFrame(at: Self.frameTime(n)) }
        // Frame 29 at 966.7 ms; the next one 300 ms later, then 30 fps again.
        let resume = Self.frameTime(29).nanoseconds + 300_000_000
        for n in 0..<30 { stats.recordFrame(at: Self.frameTime(n, from: resume)) }
        let snapshot = stats.snapshot(now: Self.frameTime(29, from: resume))
        #expect(snapshot.freezeCount == 1)
        #expect(abs(snapshot.totalFreezeDurationMilliseconds - 300) < 0.001)
        #expect(abs(snapshot.longestFrameGapMilliseconds - 300) < 0.001, "the gap a --expect-max-freeze-ms threshold reads")
        #expect(snapshot.framesDecoded == 60)

        // 100 ms (3 intervals) is not a freeze; with a nominal interval configured the same holds.
        var config = StreamStatistics.Configuration()
        config.expectedFrameInterval = .microseconds(33_400)  // 3 intervals: 100.2 ms
        var nominal = StreamStatistics(ssrc: SSRC(1), clockRate: 90_000, start: .zero, configuration: config)
        nominal.recordFrame(at: ms(0))
        nominal.recordFrame(at: ms(100))
        nominal.recordFrame(at: ms(201))
        #expect(nominal.freezeCount == 1 && nominal.totalFreezeDuration == .milliseconds(101))
    }

    @Test func lossCountsAcrossTheWrapWithDuplicatesAndReordering() {
        var stats = StreamStatistics(ssrc: SSRC(1), clockRate: 90_000, start: .zero)
        let missing: Set<Int> = [3, 10, 11, 12, 50, 97]
        var order = (0..<100).filter { !missing.contains($0) }
        order.swapAt(20, 21)  // reordered, not lost
        for i in order {
            stats.recordPacket(
                sequence: SequenceNumber(65_500).advanced(by: i), rtpTimestamp: 0, bytes: 100, arrival: ms(i))
        }
        stats.recordPacket(sequence: SequenceNumber(65_500).advanced(by: 40), rtpTimestamp: 0, bytes: 100, arrival: ms(100))
        let s = stats.snapshot(now: ms(100))
        #expect(s.packetsExpected == 100 && s.packetsReceived == 94 && s.packetsLost == 6)
        #expect(s.packetsDuplicate == 1)
        #expect(s.extendedHighestSequenceNumber == 65_536 + 63)  // 65500 + 99 - 65536, one cycle
        #expect(abs(s.lossFraction - 0.06) < 1e-12)
        // A late arrival of a missing one counts, and reduces the loss.
        stats.recordPacket(sequence: SequenceNumber(65_503), rtpTimestamp: 0, bytes: 100, arrival: ms(101))
        #expect(stats.packetsLost == 5)
    }

    /// RFC 3550 §A.1 probation, which the client's statistics lacked before they shared the relay's:
    /// a sender restart (a jump beyond MAX_DROPOUT, confirmed by the next packet) used to read as
    /// thousands of lost packets; now the statistics re-base on it and one stray packet is ignored.
    @Test func aSenderRestartIsNotReadAsLoss() {
        var stats = StreamStatistics(ssrc: SSRC(1), clockRate: 90_000, start: .zero)
        for i in 0..<10 {
            stats.recordPacket(sequence: SequenceNumber(UInt16(i)), rtpTimestamp: 0, bytes: 100, arrival: ms(i))
        }
        // One stray packet far ahead: unconfirmed, ignored.
        stats.recordPacket(sequence: SequenceNumber(30_000), rtpTimestamp: 0, bytes: 100, arrival: ms(10))
        stats.recordPacket(sequence: SequenceNumber(10), rtpTimestamp: 0, bytes: 100, arrival: ms(11))
        #expect(stats.packetsLost == 0 && stats.packetsReceived == 11 && stats.packetsDuplicate == 1)
        // The sender restarts at 20 000: two consecutive packets confirm it.
        for (n, seq) in [20_000, 20_001, 20_002].enumerated() {
            stats.recordPacket(sequence: SequenceNumber(UInt16(seq)), rtpTimestamp: 0, bytes: 100, arrival: ms(20 + n))
        }
        let s = stats.snapshot(now: ms(30))
        #expect(s.packetsLost == 0, "the jump of ~20 000 is not loss")
        #expect(s.packetsReceived == 13 && s.packetsExpected == 13, "counts carry on across the restart")
        #expect(s.lossFraction == 0)
        #expect(stats.reception.restarts == 1)
        #expect(s.packetsDuplicate == 2, "the stray packet and the first of the restart, before it was confirmed")
    }

    @Test func jitterMatchesAHandComputedExample() {
        // 90 kHz, frames 3000 ticks apart; arrivals at 0, 40, 70, 100 ms = 0, 3600, 6300, 9000 ticks.
        // Transit: 0, 600, 300, 0.  |D|: 600, 300, 300.
        // J = 0 + (600 − 0)/16 = 37.5
        // J = 37.5 + (300 − 37.5)/16 = 53.90625
        // J = 53.90625 + (300 − 53.90625)/16 = 69.287109375
        var stats = StreamStatistics(ssrc: SSRC(1), clockRate: 90_000, start: .zero)
        let base: UInt32 = 4_294_960_000  // the RTP timestamp wraps between packets: must not matter
        for (i, arrival) in [0, 40, 70, 100].enumerated() {
            stats.recordPacket(
                sequence: SequenceNumber(UInt16(i)), rtpTimestamp: base &+ UInt32(3000 * i), bytes: 1,
                arrival: ms(5000 + arrival))
        }
        #expect(stats.jitter == 69.287109375)
        let s = stats.snapshot(now: ms(5100))
        #expect(s.jitterRTPUnits == 69.287109375)
        #expect(abs(s.jitterMilliseconds - 69.287109375 / 90) < 1e-12)
    }

    @Test func latencyPercentilesAndBitrate() throws {
        var stats = StreamStatistics(ssrc: SSRC(1), clockRate: 90_000, start: .zero)
        for i in (1...100).reversed() { stats.recordLatency(captureMicroseconds: 1_000_000, decodeMicroseconds: 1_000_000 + Int64(i) * 1000) }
        for i in 0..<100 {
            stats.recordPacket(sequence: SequenceNumber(UInt16(i)), rtpTimestamp: 0, bytes: 1000, arrival: ms(2000 + i * 10))
        }
        let s = stats.snapshot(now: ms(2990))
        #expect(s.latencySampleCount == 100)
        #expect(s.latencyP50Milliseconds == 50 && s.latencyP99Milliseconds == 99)
        #expect(s.bitrateBitsPerSecond == 800_000)  // 100 × 1000 bytes within the last second
        #expect(s.bytesReceived == 100_000)
        #expect(stats.snapshot(now: ms(10_000)).bitrateBitsPerSecond == 0)

        let json = try JSONEncoder().encode(s)
        #expect(try JSONDecoder().decode(StreamStatisticsSnapshot.self, from: json) == s)
        #expect(String(decoding: json, as: UTF8.self).contains("\"freezeCount\":0"))
    }

    @Test func receiverReportBlockFromStatistics() {
        var stats = StreamStatistics(ssrc: SSRC(0xABCD), clockRate: 90_000, start: .zero)
        for i in 0..<100 where i % 4 != 1 {  // 25 of 100 lost
            stats.recordPacket(sequence: SequenceNumber(UInt16(i)), rtpTimestamp: UInt32(i * 3000), bytes: 10, arrival: ms(i * 33))
        }
        stats.recordSenderReport(ntpTimestamp: 0x0001_2345_6789_ABCD, arrival: ms(3000))
        let block = stats.makeReportBlock(now: ms(3500))
        #expect(block.ssrc == SSRC(0xABCD))
        #expect(block.fractionLost == 64)  // 25/100 × 256
        #expect(block.cumulativeLost == 25)
        #expect(block.extendedHighestSequenceNumber == 99)
        #expect(block.jitter == UInt32(stats.jitter))
        #expect(block.lastSenderReport == 0x2345_6789)
        #expect(block.delaySinceLastSenderReport == 32_768)  // 0.5 s in 1/65536 s

        // Next interval: 10 more, none lost.
        for i in 100..<110 {
            stats.recordPacket(sequence: SequenceNumber(UInt16(i)), rtpTimestamp: UInt32(i * 3000), bytes: 10, arrival: ms(i * 33))
        }
        let rr = ReceiverReportBuilder.receiverReport(reporter: SSRC(5), blocks: [stats.makeReportBlock(now: ms(4000))])
        #expect(rr.ssrc == SSRC(5) && rr.reportBlocks.count == 1)
        #expect(rr.reportBlocks[0].fractionLost == 0 && rr.reportBlocks[0].cumulativeLost == 25)
        #expect(rr.reportBlocks[0].lastSenderReport == 0x2345_6789)
    }

    @Test func audioPlayoutReordersAndMarksLostPackets() {
        var buffer = AudioPlayoutBuffer()
        func packet(_ i: Int) -> RTPPacket {
            RTPPacket(
                payloadType: PayloadType(111), sequenceNumber: SequenceNumber(65_534).advanced(by: i),
                timestamp: UInt32(960 * i), ssrc: SSRC(9), payload: [UInt8(i)])
        }
        // 20 ms packets; 2 and 3 swapped, 4 never arrives, 6 arrives after its playout time.
        let arrivals: [(Int, Int)] = [(0, 0), (1, 21), (3, 40), (2, 45), (5, 100), (6, 200)]
        var played: [String] = []
        var a = 0
        for t in 0...300 {
            while a < arrivals.count, arrivals[a].1 == t {
                buffer.insert(packet(arrivals[a].0), arrival: ms(t))
                a += 1
            }
            while let out = buffer.pop(now: ms(t)) {
                switch out {
                case .packet(let p): played.append("\(p.payload[0])@\(t)")
                case .lost(let seq): played.append("lost \(seq.distance(from: SequenceNumber(65_534)))@\(t)")
                }
            }
        }
        // Packet n plays at 40 ms + 20 n; a missing one is declared lost at that time. Packet 6
        // comes at 200 ms, after its slot (160 ms) was concealed: late. Then the stream stops and
        // concealment continues for maxConcealment (10) packets in all: 6...13 by 300 ms.
        #expect(played == ["0@40", "1@60", "2@80", "3@100", "lost 4@120", "5@140"] + (6...13).map { "lost \($0)@\(40 + 20 * $0)" })
        #expect(buffer.packetsLate == 1 && buffer.packetsConcealed == 9 && buffer.packetsPlayed == 5)
        for t in 301...600 { _ = buffer.pop(now: ms(t)) }
        #expect(buffer.packetsConcealed == 11, "4, then 6...15: paused after 10 consecutive losses")
        #expect(buffer.insert(packet(1), arrival: ms(301)) == .late)
    }
}
