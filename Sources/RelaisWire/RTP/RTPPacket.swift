/// One header extension element in owned form.
public struct RTPHeaderExtension: Equatable, Sendable {
    public var id: UInt8
    public var value: [UInt8]

    public init(id: UInt8, value: [UInt8]) {
        self.id = id
        self.value = value
    }
}

/// An RTP packet in owned form, for building packets (the client's packetizers, tests) and for
/// control-plane code. The relay's receive path uses `RTPPacketView` instead.
public struct RTPPacket: Equatable, Sendable {
    public var marker: Bool
    public var payloadType: PayloadType
    public var sequenceNumber: SequenceNumber
    public var timestamp: UInt32
    public var ssrc: SSRC
    public var csrcs: [SSRC]
    /// Elements written in the one-byte form when every id is 1...14 and every value 1...16 bytes,
    /// otherwise in the two-byte form (RFC 8285 §4.1: one form per packet).
    public var extensions: [RTPHeaderExtension]
    public var payload: [UInt8]
    /// Padding bytes to append, including the count byte; 0 for none.
    public var paddingLength: UInt8

    public init(
        marker: Bool = false, payloadType: PayloadType, sequenceNumber: SequenceNumber, timestamp: UInt32,
        ssrc: SSRC, csrcs: [SSRC] = [], extensions: [RTPHeaderExtension] = [], payload: [UInt8],
        paddingLength: UInt8 = 0
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.extensions = extensions
        self.payload = payload
        self.paddingLength = paddingLength
    }

    /// Copies a parsed view into owned form. Extension elements of an opaque profile are dropped.
    public init(_ view: RTPPacketView) {
        var extensions: [RTPHeaderExtension] = []
        var cursor = view.extensionElements
        while let element = try? cursor.next(in: view.bytes) {
            let value = view.bytes[element.valueOffset..<element.valueOffset + element.length]
            extensions.append(RTPHeaderExtension(id: element.id, value: Array(value)))
        }
        self.init(
            marker: view.marker, payloadType: view.payloadType, sequenceNumber: view.sequenceNumber,
            timestamp: view.timestamp, ssrc: view.ssrc,
            csrcs: (0..<view.csrcCount).map { view.csrc(at: $0) },
            extensions: extensions, payload: Array(view.payload),
            paddingLength: UInt8(truncatingIfNeeded: view.paddingLength)
        )
    }

    /// Parses `bytes` into owned form.
    public init(parsing bytes: [UInt8]) throws(RTPError) {
        let result: Result<RTPPacket, RTPError> = bytes.withUnsafeBytes { raw in
            do throws(RTPError) {
                return .success(RTPPacket(try RTPPacketView(parsing: raw)))
            } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    var usesOneByteForm: Bool {
        extensions.allSatisfy { (1...14).contains($0.id) && (1...16).contains($0.value.count) }
    }

    /// Bytes of extension elements before padding to a 32-bit boundary.
    var extensionElementBytes: Int {
        let perElement = usesOneByteForm ? 1 : 2
        return extensions.reduce(0) { $0 + perElement + $1.value.count }
    }

    public var serializedLength: Int {
        var length = RTPPacketView.fixedHeaderLength + 4 * csrcs.count
        if !extensions.isEmpty {
            length += 4 + (extensionElementBytes + 3) / 4 * 4
        }
        return length + payload.count + Int(paddingLength)
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        precondition(csrcs.count <= 15, "RTP carries at most 15 CSRCs")
        var b0: UInt8 = 0x80 | UInt8(csrcs.count)
        if paddingLength > 0 { b0 |= 0x20 }
        if !extensions.isEmpty { b0 |= 0x10 }
        try writer.write(b0)
        try writer.write((marker ? 0x80 : 0) | payloadType.rawValue)
        try writer.write(sequenceNumber.rawValue)
        try writer.write(timestamp)
        try writer.write(ssrc.rawValue)
        for csrc in csrcs { try writer.write(csrc.rawValue) }
        if !extensions.isEmpty {
            let oneByte = usesOneByteForm
            let words = (extensionElementBytes + 3) / 4
            try writer.write(oneByte ? UInt16(0xBEDE) : UInt16(0x1000))
            try writer.write(UInt16(words))
            for element in extensions {
                if oneByte {
                    try writer.write(element.id << 4 | UInt8(element.value.count - 1))
                } else {
                    precondition(element.value.count <= 255, "two-byte extension values hold at most 255 bytes")
                    try writer.write(element.id)
                    try writer.write(UInt8(element.value.count))
                }
                try writer.write(bytes: element.value)
            }
            try writer.writeZeros(words * 4 - extensionElementBytes)
        }
        try writer.write(bytes: payload)
        if paddingLength > 0 {
            try writer.writeZeros(Int(paddingLength) - 1)
            try writer.write(paddingLength)
        }
    }

    public func serialized() -> [UInt8] {
        // serializedLength is exact, so the writer cannot run out of room.
        (try? ByteWriter.bytes(capacity: serializedLength) { (w: inout ByteWriter) throws(BufferTooSmall) in
            try serialize(into: &w)
        }) ?? []
    }
}
