/// An application-defined packet (APP, PT 204) over the caller's bytes (RFC 3550 §6.7).
///
/// ```
/// |V=2|P| subtype |   PT=APP=204  |             length            |
/// |                           SSRC/CSRC                           |
/// |                          name (ASCII)                         |
/// |                   application-dependent data                ...
/// ```
///
/// The relay does not interpret APP packets; it only passes them through. Valid only while the
/// caller's buffer is.
public struct ApplicationDefinedView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.applicationDefined)
        try header.requireBody(8)
        self.header = header
        self.body = header.body
    }

    public var subtype: UInt8 { header.count }
    public var source: SSRC { SSRC(body.u32(at: 0)) }
    /// Four ASCII characters, big-endian in one word (`0x5445_5354` is "TEST").
    public var name: UInt32 { body.u32(at: 4) }
    public var data: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: body[8...]) }
}

/// An application-defined packet in owned form.
public struct ApplicationDefined: Equatable, Sendable {
    /// 5 bits.
    public var subtype: UInt8
    public var source: SSRC
    /// Four ASCII characters, big-endian in one word.
    public var name: UInt32
    /// RFC 3550 asks for whole words; data that is not is padded with the P bit so it survives.
    public var data: [UInt8]

    public init(subtype: UInt8, source: SSRC, name: UInt32, data: [UInt8]) {
        self.subtype = subtype
        self.source = source
        self.name = name
        self.data = data
    }

    public init(_ view: ApplicationDefinedView) {
        self.init(subtype: view.subtype, source: view.source, name: view.name, data: Array(view.data))
    }

    public var serializedLength: Int {
        RTCPWriting.padded(RTCPHeaderView.size + 8 + data.count)
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(
            &writer, count: Int(subtype), packetType: RTCPPacketType.applicationDefined)
        try writer.write(source.rawValue)
        try writer.write(name)
        try writer.write(bytes: data)
        try RTCPWriting.end(&writer, start: start)
    }
}
