/// A sender report (SR, PT 200) over the caller's bytes (RFC 3550 §6.4.1).
///
/// ```
/// |V=2|P|    RC   |   PT=SR=200   |             length            |
/// |                         SSRC of sender                        |
/// |              NTP timestamp, most significant word             |
/// |             NTP timestamp, least significant word             |
/// |                         RTP timestamp                         |
/// |                     sender's packet count                     |
/// |                      sender's octet count                     |
/// |                 report block 1 ... RC (24 bytes each)         |
/// |                  profile-specific extensions                  |
/// ```
///
/// Valid only while the caller's buffer is; reading fields allocates nothing.
public struct SenderReportView {
    public let header: RTCPHeaderView
    /// The control information (header and padding excluded).
    public let body: UnsafeRawBufferPointer

    /// Bytes of SSRC plus sender info before the first report block.
    static let fixedBodyLength = 24

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.senderReport)
        try header.requireBody(Self.fixedBodyLength)
        let body = header.body
        try ReportBlocks.validate(count: Int(header.count), in: body, from: Self.fixedBodyLength)
        self.header = header
        self.body = body
    }

    public var ssrc: SSRC { SSRC(body.u32(at: 0)) }
    /// 64-bit NTP timestamp: seconds since 1900 in the high word, fraction in the low word.
    public var ntpTimestamp: UInt64 { body.u64(at: 4) }
    public var rtpTimestamp: UInt32 { body.u32(at: 12) }
    public var packetCount: UInt32 { body.u32(at: 16) }
    public var octetCount: UInt32 { body.u32(at: 20) }
    public var reportBlockCount: Int { Int(header.count) }

    /// The report block at `index` (0 ..< reportBlockCount).
    public func reportBlock(at index: Int) -> ReportBlock {
        precondition(index >= 0 && index < reportBlockCount, "report block index out of range")
        return ReportBlock(reading: body, at: Self.fixedBodyLength + ReportBlock.size * index)
    }

    /// Bytes after the report blocks (RFC 3550 §6.4.1 profile-specific extensions).
    public var profileExtensions: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: body[(Self.fixedBodyLength + ReportBlock.size * reportBlockCount)...])
    }
}

/// A sender report in owned form, for building reports and for control-plane code.
public struct SenderReport: Equatable, Sendable {
    public var ssrc: SSRC
    public var ntpTimestamp: UInt64
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32
    /// At most 31 (the RC field is 5 bits); more sources need another RR in the same compound.
    public var reportBlocks: [ReportBlock]
    /// Profile-specific extensions, written as-is (padded with the P bit if not whole words).
    public var profileExtensions: [UInt8]

    public init(
        ssrc: SSRC, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32,
        reportBlocks: [ReportBlock] = [], profileExtensions: [UInt8] = []
    ) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reportBlocks = reportBlocks
        self.profileExtensions = profileExtensions
    }

    public init(_ view: SenderReportView) {
        self.init(
            ssrc: view.ssrc, ntpTimestamp: view.ntpTimestamp, rtpTimestamp: view.rtpTimestamp,
            packetCount: view.packetCount, octetCount: view.octetCount,
            reportBlocks: (0..<view.reportBlockCount).map { view.reportBlock(at: $0) },
            profileExtensions: Array(view.profileExtensions)
        )
    }

    public var serializedLength: Int {
        RTCPWriting.padded(
            RTCPHeaderView.size + SenderReportView.fixedBodyLength + ReportBlock.size * reportBlocks.count
                + profileExtensions.count)
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(
            &writer, count: reportBlocks.count, packetType: RTCPPacketType.senderReport)
        try writer.write(ssrc.rawValue)
        try writer.write(ntpTimestamp)
        try writer.write(rtpTimestamp)
        try writer.write(packetCount)
        try writer.write(octetCount)
        try ReportBlocks.write(reportBlocks, extensions: profileExtensions, into: &writer)
        try RTCPWriting.end(&writer, start: start)
    }
}
