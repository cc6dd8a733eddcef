/// One FIR entry (RFC 5104 §4.3.1.1): the stream asked for a keyframe and a request number.
///
/// ```
/// |                              SSRC                             |
/// | Seq nr.       |    Reserved                                   |
/// ```
public struct FIREntry: Hashable, Sendable {
    /// The stream that should send a decoder refresh point.
    public var ssrc: SSRC
    /// Command sequence number: incremented per new request, repeated on retransmission, so the
    /// sender can ignore duplicates (RFC 5104 §4.3.1.2).
    public var sequenceNumber: UInt8

    public init(ssrc: SSRC, sequenceNumber: UInt8) {
        self.ssrc = ssrc
        self.sequenceNumber = sequenceNumber
    }

    public static let size = 8
}

/// A Full Intra Request (PSFB PT 206, FMT 4) over the caller's bytes (RFC 5104 §4.3.1).
///
/// ```
/// |V=2|P|  FMT=4  |   PT=206      |          length               |
/// |                  SSRC of packet sender                        |
/// |             SSRC of media source (unused, 0)                  |
/// |                 FCI entries (8 bytes each)                    |
/// ```
///
/// Valid only while the caller's buffer is; nothing here allocates.
public struct FullIntraRequestView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.payloadSpecificFeedback, format: RTCPFeedbackFormat.fullIntraRequest)
        try header.requireBody(8)
        let body = header.body
        guard (body.count - 8) % FIREntry.size == 0 else { throw .badFCILength(body.count - 8) }
        self.header = header
        self.body = body
    }

    public var senderSSRC: SSRC { SSRC(body.u32(at: 0)) }
    /// RFC 5104 §4.3.1.2 says 0; the targets are in the entries.
    public var mediaSSRC: SSRC { SSRC(body.u32(at: 4)) }
    public var entryCount: Int { (body.count - 8) / FIREntry.size }

    /// The entry at `index` (0 ..< entryCount).
    public func entry(at index: Int) -> FIREntry {
        precondition(index >= 0 && index < entryCount, "FIR entry index out of range")
        let offset = 8 + FIREntry.size * index
        return FIREntry(ssrc: SSRC(body.u32(at: offset)), sequenceNumber: body.u8(at: offset + 4))
    }
}

/// A Full Intra Request in owned form.
public struct FullIntraRequest: Equatable, Sendable {
    public var senderSSRC: SSRC
    /// Kept only for pass-through; RFC 5104 §4.3.1.2 sets it to 0.
    public var mediaSSRC: SSRC
    public var entries: [FIREntry]

    public init(senderSSRC: SSRC, mediaSSRC: SSRC = SSRC(0), entries: [FIREntry]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.entries = entries
    }

    public init(_ view: FullIntraRequestView) {
        self.init(
            senderSSRC: view.senderSSRC, mediaSSRC: view.mediaSSRC,
            entries: (0..<view.entryCount).map { view.entry(at: $0) })
    }

    public var serializedLength: Int { RTCPHeaderView.size + 8 + FIREntry.size * entries.count }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(
            &writer, count: Int(RTCPFeedbackFormat.fullIntraRequest), packetType: RTCPPacketType.payloadSpecificFeedback)
        try writer.write(senderSSRC.rawValue)
        try writer.write(mediaSSRC.rawValue)
        for entry in entries {
            try writer.write(entry.ssrc.rawValue)
            try writer.write(UInt32(entry.sequenceNumber) << 24)  // reserved bits are zero
        }
        try RTCPWriting.end(&writer, start: start)
    }
}
