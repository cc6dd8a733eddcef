public import RelaisWire

/// Puts report blocks into one receiver report (RFC 3550 §6.4.2), for the relay's RRs to its
/// publishers and the client's RRs to the relay.
public enum ReceiverReportBuilder {
    /// The RC field is five bits: one RR carries 31 report blocks at most (RFC 3550 §6.4.2).
    public static let maxReportBlocks = 31

    /// One RR from `reporter` (our own SSRC) with the first `maxReportBlocks` of `blocks`.
    ///
    /// Each block comes from `ReceiveStatistics.makeReportBlock(now:)`, which starts the stream's
    /// next fraction-lost interval. Blocks past the 31st are not sent: one transport of the relay or
    /// the client carries far fewer streams.
    public static func receiverReport(reporter: SSRC, blocks: [ReportBlock]) -> ReceiverReport {
        ReceiverReport(ssrc: reporter, reportBlocks: Array(blocks.prefix(maxReportBlocks)))
    }
}
