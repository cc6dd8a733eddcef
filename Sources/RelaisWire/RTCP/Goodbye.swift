/// A goodbye (BYE, PT 203) over the caller's bytes (RFC 3550 §6.6).
///
/// ```
/// |V=2|P|    SC   |   PT=BYE=203  |             length            |
/// |                           SSRC/CSRC                           |
/// :                              ...                              :
/// |     length    |               reason for leaving            ...
/// ```
///
/// The reason is optional: present when the body continues past the SSRC list. Valid only while
/// the caller's buffer is.
public struct GoodbyeView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.goodbye)
        let body = header.body
        let sources = Int(header.count)
        guard 4 * sources <= body.count else {
            throw .countMismatch(declared: sources, available: body.count / 4)
        }
        let reasonOffset = 4 * sources
        if reasonOffset < body.count {
            let length = Int(body.u8(at: reasonOffset))
            let available = body.count - reasonOffset - 1
            guard length <= available else { throw .reasonOverrun(length: length, available: available) }
        }
        self.header = header
        self.body = body
    }

    public var sourceCount: Int { Int(header.count) }

    /// The SSRC or CSRC at `index` (0 ..< sourceCount).
    public func source(at index: Int) -> SSRC {
        precondition(index >= 0 && index < sourceCount, "BYE source index out of range")
        return SSRC(body.u32(at: 4 * index))
    }

    /// The reason for leaving (raw text, usually UTF-8), nil when the packet has none.
    public var reason: UnsafeRawBufferPointer? {
        let offset = 4 * sourceCount
        guard offset < body.count else { return nil }
        let length = Int(body.u8(at: offset))
        return UnsafeRawBufferPointer(rebasing: body[(offset + 1)..<(offset + 1 + length)])
    }
}

/// A goodbye in owned form.
public struct Goodbye: Equatable, Sendable {
    /// At most 31 (the SC field is 5 bits).
    public var sources: [SSRC]
    /// At most 255 bytes. An empty reason is written (a zero length octet); nil writes none.
    public var reason: [UInt8]?

    public init(sources: [SSRC], reason: [UInt8]? = nil) {
        self.sources = sources
        self.reason = reason
    }

    public init(sources: [SSRC], reasonText: String) {
        self.init(sources: sources, reason: Array(reasonText.utf8))
    }

    public init(_ view: GoodbyeView) {
        self.init(sources: (0..<view.sourceCount).map { view.source(at: $0) }, reason: view.reason.map { Array($0) })
    }

    /// The reason decoded as UTF-8, with invalid sequences replaced.
    public var reasonText: String? { reason.map { String(decoding: $0, as: UTF8.self) } }

    public var serializedLength: Int {
        RTCPHeaderView.size + 4 * sources.count + (reason.map { RTCPWriting.padded(1 + $0.count) } ?? 0)
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(&writer, count: sources.count, packetType: RTCPPacketType.goodbye)
        for source in sources {
            try writer.write(source.rawValue)
        }
        if let reason {
            guard let length = UInt8(exactly: reason.count) else {
                preconditionFailure("BYE reason longer than 255 bytes")
            }
            try writer.write(length)
            try writer.write(bytes: reason)
            // RFC 3550 §6.6: null octets to the word boundary, not RTCP padding.
            try writer.writeZeros(RTCPWriting.padded(1 + reason.count) - 1 - reason.count)
        }
        try RTCPWriting.end(&writer, start: start)
    }
}
