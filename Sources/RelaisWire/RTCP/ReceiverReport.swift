/// A receiver report (RR, PT 201) over the caller's bytes (RFC 3550 §6.4.2).
///
/// ```
/// |V=2|P|    RC   |   PT=RR=201   |             length            |
/// |                     SSRC of packet sender                     |
/// |                 report block 1 ... RC (24 bytes each)         |
/// |                  profile-specific extensions                  |
/// ```
///
/// Valid only while the caller's buffer is; reading fields allocates nothing.
public struct ReceiverReportView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer

    static let fixedBodyLength = 4

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.receiverReport)
        try header.requireBody(Self.fixedBodyLength)
        let body = header.body
        try ReportBlocks.validate(count: Int(header.count), in: body, from: Self.fixedBodyLength)
        self.header = header
        self.body = body
    }

    /// The reporter (a receiver that sends no media uses an SSRC of its own).
    public var ssrc: SSRC { SSRC(body.u32(at: 0)) }
    public var reportBlockCount: Int { Int(header.count) }

    /// The report block at `index` (0 ..< reportBlockCount).
    public func reportBlock(at index: Int) -> ReportBlock {
        precondition(index >= 0 && index < reportBlockCount, "report block index out of range")
        return ReportBlock(reading: body, at: Self.fixedBodyLength + ReportBlock.size * index)
    }

    public var profileExtensions: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: body[(Self.fixedBodyLength + ReportBlock.size * reportBlockCount)...])
    }
}

/// A receiver report in owned form.
public struct ReceiverReport: Equatable, Sendable {
    public var ssrc: SSRC
    /// At most 31 (the RC field is 5 bits). An empty RR is the usual head of a compound from a
    /// receiver with nothing to report (RFC 3550 §6.1).
    public var reportBlocks: [ReportBlock]
    public var profileExtensions: [UInt8]

    public init(ssrc: SSRC, reportBlocks: [ReportBlock] = [], profileExtensions: [UInt8] = []) {
        self.ssrc = ssrc
        self.reportBlocks = reportBlocks
        self.profileExtensions = profileExtensions
    }

    public init(_ view: ReceiverReportView) {
        self.init(
            ssrc: view.ssrc,
            reportBlocks: (0..<view.reportBlockCount).map { view.reportBlock(at: $0) },
            profileExtensions: Array(view.profileExtensions)
        )
    }

    public var serializedLength: Int {
        RTCPWriting.padded(
            RTCPHeaderView.size + ReceiverReportView.fixedBodyLength + ReportBlock.size * reportBlocks.count
                + profileExtensions.count)
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(
            &writer, count: reportBlocks.count, packetType: RTCPPacketType.receiverReport)
        try writer.write(ssrc.rawValue)
        try ReportBlocks.write(reportBlocks, extensions: profileExtensions, into: &writer)
        try RTCPWriting.end(&writer, start: start)
    }
}
