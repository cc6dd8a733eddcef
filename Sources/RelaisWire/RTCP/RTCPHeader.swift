/// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1).
///
/// Plain `UInt8` constants rather than an enum: a relay must pass through types it does not know,
/// so the header keeps the raw value and callers switch on these.
public enum RTCPPacketType {
    public static let senderReport: UInt8 = 200
    public static let receiverReport: UInt8 = 201
    public static let sourceDescription: UInt8 = 202
    public static let goodbye: UInt8 = 203
    public static let applicationDefined: UInt8 = 204
    /// Transport-layer feedback (RFC 4585 §6.2).
    public static let transportFeedback: UInt8 = 205
    /// Payload-specific feedback (RFC 4585 §6.3).
    public static let payloadSpecificFeedback: UInt8 = 206
}

/// Feedback message types carried in the count field of RTPFB and PSFB packets.
public enum RTCPFeedbackFormat {
    /// RTPFB: Generic NACK (RFC 4585 §6.2.1).
    public static let genericNACK: UInt8 = 1
    /// RTPFB: transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
    public static let transportWideCC: UInt8 = 15
    /// PSFB: Picture Loss Indication (RFC 4585 §6.3.1).
    public static let pictureLossIndication: UInt8 = 1
    /// PSFB: Full Intra Request (RFC 5104 §4.3.1).
    public static let fullIntraRequest: UInt8 = 4
    /// PSFB: application-layer feedback (RFC 4585 §6.4), which is where REMB lives.
    public static let applicationLayer: UInt8 = 15
}

/// The common header of one RTCP packet (RFC 3550 §6.4.1) and the bytes it covers.
///
/// ```
///  0                   1                   2                   3
/// |V=2|P|  count  |      PT       |             length            |
/// ```
///
/// The view keeps the raw pointer it was given: it is valid only while the caller's buffer is, and
/// must not outlive the receive callback. Parsing checks the version, that the length field stays
/// inside the buffer, and the padding count; it allocates nothing.
public struct RTCPHeaderView {
    /// The whole packet: header, body and padding (`4 * (length + 1)` bytes).
    public let bytes: UnsafeRawBufferPointer
    /// The P bit: the packet ends with `paddingLength` octets that are not control information.
    public let hasPadding: Bool
    /// The 5-bit count field: RC (SR, RR), SC (SDES, BYE), subtype (APP) or FMT (RTPFB, PSFB).
    public let count: UInt8
    public let packetType: UInt8
    /// The raw length field: packet length in 32-bit words minus one.
    public let lengthInWords: UInt16
    /// Padding octets at the end, the count octet included; 0 when the P bit is clear.
    public let paddingLength: Int

    /// Bytes of the common header.
    public static let size = 4

    /// Parses the packet that starts at the beginning of `buffer`; bytes after it are left alone, so
    /// the compound iterator can hand in the rest of a datagram.
    public init(parsing buffer: UnsafeRawBufferPointer) throws(RTCPError) {
        guard buffer.count >= Self.size else { throw .truncated(needed: Self.size, have: buffer.count) }
        let b0 = buffer.u8(at: 0)
        let version = b0 >> 6
        guard version == 2 else { throw .badVersion(version) }
        let words = buffer.u16(at: 2)
        let length = (Int(words) + 1) * 4
        guard length <= buffer.count else { throw .lengthPastEnd(declared: length, available: buffer.count) }
        let hasPadding = b0 & 0x20 != 0
        var padding = 0
        if hasPadding {
            // RFC 3550 §6.4.1: the last octet counts the padding, itself included. It is usually a
            // multiple of four, but libwebrtc pads transport-wide feedback by 1...3 octets, so any
            // count that leaves the header intact is accepted.
            padding = Int(buffer.u8(at: length - 1))
            guard padding > 0, padding <= length - Self.size else {
                throw .badPadding(length: padding, available: length - Self.size)
            }
        }
        self.bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        self.hasPadding = hasPadding
        self.count = b0 & 0x1F
        self.packetType = buffer.u8(at: 1)
        self.lengthInWords = words
        self.paddingLength = padding
    }

    /// Always 2: other versions are rejected by the parser.
    public var version: UInt8 { 2 }

    /// The count field read as the feedback message type (RTPFB, PSFB).
    public var format: UInt8 { count }

    /// Length of the whole packet in bytes, padding included.
    public var byteLength: Int { bytes.count }

    /// The control information: after the 4-byte header, before the padding.
    public var body: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[Self.size..<(bytes.count - paddingLength)])
    }

    /// Throws unless this packet is of `packetType` (and, when given, feedback format `format`).
    func require(_ packetType: UInt8, format: UInt8? = nil) throws(RTCPError) {
        guard self.packetType == packetType, format == nil || format == count else {
            throw .wrongPacketType(packetType: self.packetType, count: count)
        }
    }

    /// Throws `truncated` unless the body holds at least `bodyBytes`.
    func requireBody(_ bodyBytes: Int) throws(RTCPError) {
        let have = bytes.count - paddingLength
        guard have - Self.size >= bodyBytes else { throw .truncated(needed: Self.size + bodyBytes, have: have) }
    }
}

/// Header and padding rules shared by every serializer.
enum RTCPWriting {
    /// `contentLength` rounded up to a 32-bit boundary (RFC 3550 §6.4.1: packets are whole words).
    static func padded(_ contentLength: Int) -> Int {
        (contentLength + 3) & ~3
    }

    /// Writes a header with a placeholder length, to be fixed by `end`. Returns the packet's offset.
    static func begin(
        _ writer: inout ByteWriter, count: Int, packetType: UInt8
    ) throws(BufferTooSmall) -> Int {
        precondition(count >= 0 && count < 32, "RTCP count field is 5 bits: split into several packets")
        let start = writer.position
        try writer.write(UInt8(0x80 | count))
        try writer.write(packetType)
        try writer.write(UInt16(0))
        return start
    }

    /// Pads to a 32-bit boundary and patches the length field.
    ///
    /// Content that does not end on a word boundary (transport-wide feedback, pass-through bodies) is
    /// padded the way libwebrtc does it: P bit set, zeros, and a last octet counting the padding
    /// (RFC 3550 §6.4.1), so receivers can tell the padding from the control information.
    static func end(_ writer: inout ByteWriter, start: Int) throws(BufferTooSmall) {
        let unaligned = (writer.position - start) & 3
        if unaligned != 0 {
            let padding = 4 - unaligned
            try writer.writeZeros(padding - 1)
            try writer.write(UInt8(padding))
            writer.patch(writer.buffer[start] | 0x20, at: start)
        }
        let words = (writer.position - start) / 4 - 1
        guard let field = UInt16(exactly: words) else {
            preconditionFailure("RTCP packet of \(words + 1) words exceeds the 16-bit length field")
        }
        writer.patch(field, at: start + 2)
    }
}
