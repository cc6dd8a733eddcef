/// A Receiver Estimated Maximum Bitrate message over the caller's bytes
/// (PSFB PT 206, FMT 15; draft-alvestrand-rmcat-remb-03 §2.2).
///
/// ```
/// |V=2|P| FMT=15  |   PT=206      |             length            |
/// |                  SSRC of packet sender                        |
/// |                  SSRC of media source (0)                     |
/// |  Unique identifier 'R' 'E' 'M' 'B'                            |
/// |  Num SSRC     | BR Exp    |  BR Mantissa                      |
/// |   SSRC feedback                                               |  (Num SSRC times)
/// ```
///
/// The bitrate is `mantissa << exp` bits per second, an 18-bit mantissa and a 6-bit exponent.
/// Valid only while the caller's buffer is; nothing here allocates.
public struct REMBView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer
    /// Bits per second.
    public let bitrate: UInt64

    /// "REMB" as a big-endian word.
    public static let identifier: UInt32 = 0x5245_4D42

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.payloadSpecificFeedback, format: RTCPFeedbackFormat.applicationLayer)
        try header.requireBody(16)
        let body = header.body
        let identifier = body.u32(at: 8)
        guard identifier == Self.identifier else { throw .unsupportedApplicationFeedback(identifier: identifier) }
        let count = Int(body.u8(at: 12))
        let fits = (body.count - 16) / 4
        guard count <= fits else { throw .countMismatch(declared: count, available: fits) }
        let field = body.u24(at: 13)
        let exponent = UInt8(field >> 18)
        let mantissa = field & 0x3_FFFF
        // libwebrtc rejects rather than saturates, so a bogus estimate never reads as "unlimited".
        let bitrate = UInt64(mantissa) << exponent
        guard bitrate >> exponent == UInt64(mantissa) else {
            throw .rembBitrateOverflow(exponent: exponent, mantissa: mantissa)
        }
        self.header = header
        self.body = body
        self.bitrate = bitrate
    }

    /// True when `header` is an application-layer feedback message carrying REMB, so that other
    /// PSFB FMT 15 messages can be passed through instead of rejected.
    public static func isREMB(_ header: RTCPHeaderView) -> Bool {
        header.packetType == RTCPPacketType.payloadSpecificFeedback
            && header.count == RTCPFeedbackFormat.applicationLayer
            && header.body.count >= 12 && header.body.u32(at: 8) == identifier
    }

    public var senderSSRC: SSRC { SSRC(body.u32(at: 0)) }
    public var mediaSSRC: SSRC { SSRC(body.u32(at: 4)) }
    public var ssrcCount: Int { Int(body.u8(at: 12)) }

    /// The stream at `index` (0 ..< ssrcCount) that the estimate applies to.
    public func ssrc(at index: Int) -> SSRC {
        precondition(index >= 0 && index < ssrcCount, "REMB SSRC index out of range")
        return SSRC(body.u32(at: 16 + 4 * index))
    }
}

/// A REMB message in owned form.
public struct REMB: Equatable, Sendable {
    public var senderSSRC: SSRC
    /// Kept only for pass-through; the draft sets it to 0.
    public var mediaSSRC: SSRC
    /// Bits per second. Written as an 18-bit mantissa and 6-bit exponent, so values above 2^18
    /// lose their low bits (rounded down: an estimate must not grow on the way).
    public var bitrate: UInt64
    /// At most 255.
    public var ssrcs: [SSRC]

    public init(senderSSRC: SSRC, mediaSSRC: SSRC = SSRC(0), bitrate: UInt64, ssrcs: [SSRC]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.bitrate = bitrate
        self.ssrcs = ssrcs
    }

    public init(_ view: REMBView) {
        self.init(
            senderSSRC: view.senderSSRC, mediaSSRC: view.mediaSSRC, bitrate: view.bitrate,
            ssrcs: (0..<view.ssrcCount).map { view.ssrc(at: $0) })
    }

    /// The smallest exponent whose shifted value fits the 18-bit mantissa, which keeps the most
    /// precision.
    public static func encode(bitrate: UInt64) -> (exponent: UInt8, mantissa: UInt32) {
        let significantBits = UInt64.bitWidth - bitrate.leadingZeroBitCount
        let exponent = max(0, significantBits - 18)
        return (UInt8(exponent), UInt32(truncatingIfNeeded: bitrate >> UInt64(exponent)))
    }

    public var serializedLength: Int { RTCPHeaderView.size + 16 + 4 * ssrcs.count }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        guard let count = UInt8(exactly: ssrcs.count) else {
            preconditionFailure("REMB carries at most 255 SSRCs")
        }
        let start = try RTCPWriting.begin(
            &writer, count: Int(RTCPFeedbackFormat.applicationLayer), packetType: RTCPPacketType.payloadSpecificFeedback)
        try writer.write(senderSSRC.rawValue)
        try writer.write(mediaSSRC.rawValue)
        try writer.write(REMBView.identifier)
        let (exponent, mantissa) = Self.encode(bitrate: bitrate)
        try writer.write(count)
        try writer.write24(UInt32(exponent) << 18 | mantissa)
        for ssrc in ssrcs {
            try writer.write(ssrc.rawValue)
        }
        try RTCPWriting.end(&writer, start: start)
    }
}
