public import RelaisWire

extension StreamStatistics {
    /// The report block (RFC 3550 §6.4.1) for this stream in our next RR, and the start of the next
    /// fraction-lost interval (§A.3): fraction lost covers the packets expected since the previous
    /// call, 0 when the interval's loss is negative; cumulative loss is clamped to 24 signed bits;
    /// LSR is the middle 32 bits of the last SR's NTP timestamp and DLSR the time since it arrived
    /// in 1/65536 s (both 0 without an SR).
    public mutating func makeReportBlock(now: Instant) -> ReportBlock {
        let expected = packetsExpected
        let expectedInterval = expected - expectedPrior
        let receivedInterval = packetsReceived - receivedPrior
        expectedPrior = expected
        receivedPrior = packetsReceived
        let lostInterval = expectedInterval - receivedInterval
        let fraction: UInt8 =
            expectedInterval <= 0 || lostInterval <= 0 ? 0 : UInt8(clamping: (lostInterval << 8) / expectedInterval)
        let range = ReportBlock.cumulativeLostRange
        let lost = Int32(min(max(packetsLost, Int64(range.lowerBound)), Int64(range.upperBound)))
        var dlsr: UInt32 = 0
        if let arrival = lastSenderReportArrival {
            let elapsed = now.since(arrival).nanosecondsClamped
            dlsr = UInt32(clamping: elapsed / 1_000 &* 65_536 / 1_000_000)
        }
        return ReportBlock(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: lost,
            extendedHighestSequenceNumber: extendedHighestSequenceNumber, jitter: UInt32(jitter),
            lastSenderReport: lastSenderReportArrival == nil ? 0 : lastSenderReportMiddle,
            delaySinceLastSenderReport: dlsr)
    }
}

/// Builds the client's receiver reports (RFC 3550 §6.4.2) from its streams' statistics.
public enum ReceiverReportBuilder {
    /// One RR from `reporter` (our own SSRC) with a block per stream, at most 31 (the RC field);
    /// each stream's fraction-lost interval restarts.
    public static func receiverReport(
        reporter: SSRC, streams: inout [StreamStatistics], now: Instant
    ) -> ReceiverReport {
        var blocks: [ReportBlock] = []
        for index in streams.indices.prefix(31) {
            blocks.append(streams[index].makeReportBlock(now: now))
        }
        return ReceiverReport(ssrc: reporter, reportBlocks: blocks)
    }
}
