import RelaisWire
import Testing

@testable import RelaisReceive

@Suite("ReceiveStatistics (RFC 3550 §6.4.1, A.1, A.3, A.8)")
struct ReceiveStatisticsTests {
    /// Records `sequences` 20 ms apart with 8 kHz timestamps that match, so jitter stays zero.
    static func feed(_ stats: inout ReceiveStatistics, _ sequences: [UInt16], start: UInt64 = 0) {
        for (i, seq) in sequences.enumerated() {
            stats.record(sequence: SequenceNumber(seq), rtpTimestamp: UInt32(seq) &* 160, arrival: ms(start + UInt64(i) * 20))
        }
    }

    @Test func extendedHighestSequenceCountsTheCycleAtWrapAround() {
        var stats = ReceiveStatistics(ssrc: SSRC(1), clockRate: 8000)
        Self.feed(&stats, [65533, 65534, 65535, 0, 1, 2])
        #expect(stats.extendedHighestSequence == 0x1_0002)
        #expect(stats.packetsReceived == 6)
        #expect(stats.packetsExpected == 6)
        #expect(stats.cumulativeLost == 0)
        let block = stats.makeReportBlock(now: ms(200))
        #expect(block.extendedHighestSequenceNumber == 0x1_0002)
        #expect(block.cumulativeLost == 0)
        #expect(block.fractionLost == 0)
    }

    @Test func reorderingAcrossTheWrapIsNotLoss() {
        var stats = ReceiveStatistics(ssrc: SSRC(1), clockRate: 8000)
        let outcomes = [UInt16(65534), 0, 65535, 2, 1].map {
            stats.record(sequence: SequenceNumber($0), rtpTimestamp: 0, arrival: .zero)
        }
        #expect(outcomes == [.inOrder(gap: 0), .inOrder(gap: 1), .late, .inOrder(gap: 1), .late])
        #expect(stats.extendedHighestSequence == 0x1_0002)
        #expect(stats.cumulativeLost == 0)
        #expect(stats.packetsReceived == 5)
    }

    @Test func duplicatesAndVeryOldPacketsDoNotChangeTheCounts() {
        var stats = ReceiveStatistics(ssrc: SSRC(1), clockRate: 8000)
        Self.feed(&stats, [10, 11, 12])
        #expect(stats.record(sequence: SequenceNumber(11), rtpTimestamp: 0, arrival: ms(100)) == .duplicate)
        #expect(stats.record(sequence: SequenceNumber(9), rtpTimestamp: 0, arrival: ms(100)) == .tooOld)  // before the first
        #expect(stats.packetsReceived == 3)
        #expect(stats.cumulativeLost == 0)
        #expect(stats.duplicates == 1)

        // Move 2000 ahead in steps; then a copy of 12 is beyond the duplicate window.
        var seq: UInt16 = 12
        for _ in 0..<2000 {
            seq &+= 1
            stats.record(sequence: SequenceNumber(seq), rtpTimestamp: 0, arrival: ms(200))
        }
        let received = stats.packetsReceived
        #expect(stats.record(sequence: SequenceNumber(12), rtpTimestamp: 0, arrival: ms(300)) == .tooOld)
        #expect(stats.record(sequence: SequenceNumber(seq), rtpTimestamp: 0, arrival: ms(300)) == .duplicate)
        #expect(stats.packetsReceived == received)
        #expect(stats.cumulativeLost == 0)
    }

    /// Hand-computed with RFC 3550 §6.4.1, clock 8 kHz (one tick = 125 µs):
    ///
    ///     seq  ts   arrival   arrival ticks  transit  |D|   J = J + (|D| - J) / 16
    ///     1    0    0 ms      0              0        -     0
    ///     2    160  20 ms     160            0        0     0
    ///     3    320  45 ms     360            40       40    2.5
    ///     4    480  60 ms     480            0        40    2.5 + 37.5/16 = 4.84375
    @Test(arguments: [UInt32(0), UInt32.max - 200])
    func jitterFollowsTheRFCFormula(timestampBase: UInt32) {
        var stats = ReceiveStatistics(ssrc: SSRC(1), clockRate: 8000)
        let rows: [(UInt16, UInt32, UInt64)] = [(1, 0, 0), (2, 160, 20), (3, 320, 45), (4, 480, 60)]
        var estimates: [Double] = []
        for (seq, ts, arrival) in rows {
            stats.record(sequence: SequenceNumber(seq), rtpTimestamp: timestampBase &+ ts, arrival: ms(1000 + arrival))
            estimates.append(stats.jitterEstimate)
        }
        #expect(estimates == [0, 0, 2.5, 4.84375])
        #expect(stats.jitter == 4)
        #expect(stats.makeReportBlock(now: ms(2000)).jitter == 4)
    }

    @Test func fractionLostCoversTheIntervalSinceThePreviousReport() {
        var stats = ReceiveStatistics(ssrc: SSRC(7), clockRate: 90000)
        Self.feed(&stats, [1, 2, 3, 5, 6, 8, 9, 10])  // 4 and 7 lost
        let first = stats.makeReportBlock(now: ms(1000))
        #expect(first.ssrc == SSRC(7))
        #expect(first.cumulativeLost == 2)
        #expect(first.fractionLost == 51)  // 2 / 10 * 256 = 51.2

        Self.feed(&stats, Array(11...20), start: 1000)
        let second = stats.makeReportBlock(now: ms(2000))
        #expect(second.fractionLost == 0)
        #expect(second.cumulativeLost == 2)

        // 4 arrives very late: cumulative loss drops, the interval's loss is negative -> 0.
        #expect(stats.record(sequence: SequenceNumber(4), rtpTimestamp: 0, arrival: ms(2100)) == .late)
        let third = stats.makeReportBlock(now: ms(3000))
        #expect(third.fractionLost == 0)
        #expect(third.cumulativeLost == 1)

        Self.feed(&stats, [21, 22, 24], start: 3000)  // 23 lost: 1 of 4
        #expect(stats.makeReportBlock(now: ms(4000)).fractionLost == 64)
    }

    @Test func lastSenderReportAndDelaySinceIt() {
        var stats = ReceiveStatistics(ssrc: SSRC(1), clockRate: 90000)
        Self.feed(&stats, [1, 2])
        let none = stats.makeReportBlock(now: ms(500))
        #expect(none.lastSenderReport == 0)
        #expect(none.delaySinceLastSenderReport == 0)

        stats.recordSenderReport(ntp: 0x1122_3344_5566_7788, arrival: ms(1000))
        let block = stats.makeReportBlock(now: ms(1500))
        #expect(block.lastSenderReport == 0x3344_5566)  // middle 32 bits
        #expect(block.delaySinceLastSenderReport == 32768)  // 0.5 s in 1/65536 s
        #expect(stats.makeReportBlock(now: ms(3000)).delaySinceLastSenderReport == 2 * 65536)
    }

    @Test func cumulativeLostIsClampedTo24Bits() {
        var stats = ReceiveStatistics(ssrc: SSRC(1), clockRate: 90000)
        var seq: UInt16 = 0
        stats.record(sequence: SequenceNumber(seq), rtpTimestamp: 0, arrival: .zero)
        for _ in 0..<2900 {  // 2900 gaps of 2999 lost packets: about 8.7 million
            seq &+= 3000
            stats.record(sequence: SequenceNumber(seq), rtpTimestamp: 0, arrival: .zero)
        }
        #expect(stats.cumulativeLost == 2900 * 2999)
        #expect(stats.makeReportBlock(now: .zero).cumulativeLost == 0x7F_FFFF)
    }

    @Test func aConfirmedJumpRestartsWithoutLosingTheLossHistory() {
        var stats = ReceiveStatistics(ssrc: SSRC(1), clockRate: 90000)
        Self.feed(&stats, [100, 101, 103])  // 102 lost
        #expect(stats.record(sequence: SequenceNumber(20000), rtpTimestamp: 0, arrival: ms(100)) == .probation)
        #expect(stats.cumulativeLost == 1)  // the stray packet did not count 19896 losses
        #expect(stats.record(sequence: SequenceNumber(20001), rtpTimestamp: 0, arrival: ms(120)) == .restarted)
        #expect(stats.restarts == 1)
        #expect(stats.cumulativeLost == 1)
        #expect(stats.extendedHighestSequence == 0x1_0000 | 20001)  // keeps increasing
        #expect(stats.record(sequence: SequenceNumber(20002), rtpTimestamp: 0, arrival: ms(140)) == .inOrder(gap: 0))
    }
}
