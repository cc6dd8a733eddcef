import RelaisWire
import Testing

@testable import RelaisReceive

/// The generator as the client's jitter buffer drives it: sequence numbers it extended itself,
/// packets it stopped needing, and restarts. (The policy's timing and bounds are in
/// `NackGeneratorTests`; they are the same whichever way the sequence numbers come.)
@Suite("NackGenerator, extended sequence numbers")
struct NackGeneratorExtendedTests {
    @Test func extendedNumbersBeyondSixteenBitsAreTrackedAsGiven() {
        var nack = NackGenerator()
        let base: Int64 = 3 << 16 | 65_534
        nack.received(extended: base, now: .zero)
        nack.received(extended: base + 4, now: .zero)
        #expect(nack.missingExtended == [base + 1, base + 2, base + 3])
        var lost: [SequenceNumber] = []
        nack.due(now: ms(10), rtt: .zero, into: &lost)
        #expect(lost.map(\.rawValue) == [65_535, 0, 1], "the wire carries the low 16 bits")
        nack.received(extended: base + 2, now: ms(15))
        #expect(nack.recovered == 1 && nack.missingExtended == [base + 1, base + 3])
    }

    @Test func forgetStopsWaitingForWhatTheDecoderIsPastWithoutGivingUp() {
        var nack = NackGenerator()
        nack.received(extended: 100, now: .zero)
        nack.received(extended: 110, now: .zero)  // 101...109 missing
        nack.forget(below: 105)
        #expect(nack.missingExtended == Array(105...109))
        #expect(nack.givenUp == 0)
        nack.forget(below: 1_000)
        #expect(nack.missingCount == 0 && nack.nextDeadline == nil)
    }

    @Test func resetForgetsTheHighestSoTheNextPacketStartsAfresh() {
        var nack = NackGenerator()
        nack.received(extended: 100, now: .zero)
        nack.received(extended: 103, now: .zero)
        nack.reset()
        #expect(nack.missingCount == 0)
        // After a restart the buffer re-bases far away: no gap is inferred from the old highest.
        nack.received(extended: 500_000, now: ms(1))
        nack.received(extended: 500_001, now: ms(2))
        #expect(nack.missingCount == 0 && nack.resets == 0)
    }

    /// A jump beyond `maxGap` clears the list; what it held is abandoned and counted as such (the
    /// client's tracker counted it, the relay's did not: one policy now).
    @Test func aResetCountsTheAbandonedSequencesAsGivenUp() {
        var nack = NackGenerator()
        nack.received(extended: 10, now: .zero)
        nack.received(extended: 14, now: .zero)  // 11, 12, 13 missing
        nack.received(extended: 14 + 1_001 + 1, now: .zero)
        #expect(nack.resets == 1 && nack.givenUp == 3 && nack.missingCount == 0)
    }

    @Test func oneSetOfConstants() {
        let configuration = NackGenerator.Configuration()
        #expect(configuration.reorderWait == .milliseconds(10))
        #expect(configuration.minRetryInterval == .milliseconds(20))
        #expect(configuration.maxRetries == 10)
        #expect(configuration.maxEntries == 500)
        #expect(configuration.maxGap == 1000)
    }
}

@Suite("ReceiverReportBuilder")
struct ReceiverReportBuilderTests {
    @Test func oneReportCarriesAtMostThirtyOneBlocks() throws {
        let blocks = (0..<40).map { n in
            ReportBlock(
                ssrc: SSRC(UInt32(n)), fractionLost: 0, cumulativeLost: 0, extendedHighestSequenceNumber: 0,
                jitter: 0, lastSenderReport: 0, delaySinceLastSenderReport: 0)
        }
        let report = ReceiverReportBuilder.receiverReport(reporter: SSRC(9), blocks: blocks)
        #expect(report.ssrc == SSRC(9))
        #expect(report.reportBlocks.map(\.ssrc) == (0..<31).map { SSRC(UInt32($0)) })
        var bytes = [UInt8](repeating: 0, count: 1500)
        let length = try bytes.withUnsafeMutableBytes { raw in
            var writer = ByteWriter(raw)
            try report.serialize(into: &writer)
            return writer.position
        }
        #expect(length == 8 + 31 * 24)
    }
}
