/// SDES item types (RFC 3550 §6.5, §12.2). A struct rather than an enum so unknown types pass
/// through.
public struct SDESItemType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    /// Canonical end-point identifier, the one item every compound must carry (RFC 3550 §6.5.1).
    public static let cname = SDESItemType(1)
    public static let name = SDESItemType(2)
    public static let email = SDESItemType(3)
    public static let phone = SDESItemType(4)
    public static let location = SDESItemType(5)
    public static let tool = SDESItemType(6)
    public static let note = SDESItemType(7)
    /// Private extensions; the prefix length and prefix are part of the value (RFC 3550 §6.5.8).
    public static let priv = SDESItemType(8)
}

/// A source description (SDES, PT 202) over the caller's bytes (RFC 3550 §6.5).
///
/// ```
/// |V=2|P|    SC   |  PT=SDES=202  |             length            |
/// |                          SSRC/CSRC_1                          |
/// |                           SDES items                          |
/// |                              ...                              |
/// ```
///
/// Each chunk is an SSRC/CSRC followed by items (type octet, length octet, that many octets of
/// text) and ends with a null octet, plus null octets up to the next 32-bit boundary. Parsing walks
/// every chunk once, so the iterators below cannot run past the packet; nothing is allocated.
/// Valid only while the caller's buffer is.
public struct SourceDescriptionView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.sourceDescription)
        let body = header.body
        var offset = 0
        for index in 0..<Int(header.count) {
            guard offset + 4 <= body.count else {
                throw .countMismatch(declared: Int(header.count), available: index)
            }
            offset = try Self.chunkEnd(body, start: offset, index: index)
        }
        self.header = header
        self.body = body
    }

    /// The offset just past the chunk starting at `start`, its null octets included.
    static func chunkEnd(_ body: UnsafeRawBufferPointer, start: Int, index: Int) throws(RTCPError) -> Int {
        var offset = start + 4
        while true {
            guard offset < body.count else { throw .sdesUnterminatedChunk(index: index) }
            if body.u8(at: offset) == 0 { break }
            guard offset + 2 <= body.count,
                  offset + 2 + Int(body.u8(at: offset + 1)) <= body.count
            else { throw .sdesItemOverrun(offset: RTCPHeaderView.size + offset) }
            offset += 2 + Int(body.u8(at: offset + 1))
        }
        // The body starts on a word boundary, so chunk alignment is alignment within the body.
        let end = RTCPWriting.padded(offset + 1)
        guard end <= body.count else {
            throw .truncated(needed: RTCPHeaderView.size + end, have: RTCPHeaderView.size + body.count)
        }
        return end
    }

    public var chunkCount: Int { Int(header.count) }

    /// The chunks in order.
    public var chunks: Chunks { Chunks(body: body, remaining: chunkCount) }

    /// The CNAME of `source`, if a chunk about it carries one.
    public func cname(of source: SSRC) -> UnsafeRawBufferPointer? {
        for chunk in chunks where chunk.source == source {
            for item in chunk.items where item.type == .cname {
                return item.value
            }
        }
        return nil
    }

    /// Iterates the chunks of a validated SDES packet.
    public struct Chunks: Sequence, IteratorProtocol {
        let body: UnsafeRawBufferPointer
        var remaining: Int
        var offset = 0

        init(body: UnsafeRawBufferPointer, remaining: Int) {
            self.body = body
            self.remaining = remaining
        }

        public mutating func next() -> SDESChunkView? {
            guard remaining > 0,
                  let end = try? SourceDescriptionView.chunkEnd(body, start: offset, index: 0)
            else { return nil }
            defer {
                offset = end
                remaining -= 1
            }
            return SDESChunkView(
                source: SSRC(body.u32(at: offset)),
                itemBytes: UnsafeRawBufferPointer(rebasing: body[(offset + 4)..<end]))
        }
    }
}

/// One SDES chunk: the source and its items. Valid only while the caller's buffer is.
public struct SDESChunkView {
    public let source: SSRC
    /// Items, the null terminator and its padding (already validated).
    let itemBytes: UnsafeRawBufferPointer

    public var items: Items { Items(bytes: itemBytes) }

    /// Iterates the items of a chunk, stopping at the null item.
    public struct Items: Sequence, IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        public mutating func next() -> SDESItemView? {
            // Checked again so that the iterator is safe on its own, not only after validation.
            guard offset + 2 <= bytes.count, bytes.u8(at: offset) != 0 else { return nil }
            let length = Int(bytes.u8(at: offset + 1))
            guard offset + 2 + length <= bytes.count else { return nil }
            defer { offset += 2 + length }
            return SDESItemView(
                type: SDESItemType(bytes.u8(at: offset)),
                value: UnsafeRawBufferPointer(rebasing: bytes[(offset + 2)..<(offset + 2 + length)]))
        }
    }
}

/// One SDES item. `value` is the raw text (UTF-8 by RFC 3550 §6.5, but not checked).
public struct SDESItemView {
    public let type: SDESItemType
    public let value: UnsafeRawBufferPointer
}

/// One SDES item in owned form.
public struct SDESItem: Equatable, Sendable {
    /// Any type but 0, which terminates the item list.
    public var type: SDESItemType
    /// At most 255 bytes (the length field is one octet).
    public var value: [UInt8]

    public init(type: SDESItemType, value: [UInt8]) {
        self.type = type
        self.value = value
    }

    public init(type: SDESItemType, text: String) {
        self.init(type: type, value: Array(text.utf8))
    }

    /// The value decoded as UTF-8, with invalid sequences replaced.
    public var text: String { String(decoding: value, as: UTF8.self) }
}

/// One SDES chunk in owned form.
public struct SDESChunk: Equatable, Sendable {
    public var source: SSRC
    public var items: [SDESItem]

    public init(source: SSRC, items: [SDESItem]) {
        self.source = source
        self.items = items
    }

    /// Chunk length on the wire: SSRC, items, a null octet, padding to 32 bits.
    var serializedLength: Int {
        RTCPWriting.padded(4 + items.reduce(0) { $0 + 2 + $1.value.count } + 1)
    }
}

/// A source description in owned form.
public struct SourceDescription: Equatable, Sendable {
    /// At most 31 (the SC field is 5 bits).
    public var chunks: [SDESChunk]

    public init(chunks: [SDESChunk]) {
        self.chunks = chunks
    }

    /// The usual SDES of a compound: one chunk carrying the CNAME of `source`.
    public init(source: SSRC, cname: String) {
        self.init(chunks: [SDESChunk(source: source, items: [SDESItem(type: .cname, text: cname)])])
    }

    public init(_ view: SourceDescriptionView) {
        var chunks: [SDESChunk] = []
        for chunk in view.chunks {
            var items: [SDESItem] = []
            for item in chunk.items {
                items.append(SDESItem(type: item.type, value: Array(item.value)))
            }
            chunks.append(SDESChunk(source: chunk.source, items: items))
        }
        self.init(chunks: chunks)
    }

    public var serializedLength: Int {
        RTCPHeaderView.size + chunks.reduce(0) { $0 + $1.serializedLength }
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(&writer, count: chunks.count, packetType: RTCPPacketType.sourceDescription)
        for chunk in chunks {
            let chunkStart = writer.position
            try writer.write(chunk.source.rawValue)
            for item in chunk.items {
                precondition(item.type.rawValue != 0, "SDES item type 0 is the list terminator")
                guard let length = UInt8(exactly: item.value.count) else {
                    preconditionFailure("SDES item value longer than 255 bytes")
                }
                try writer.write(item.type.rawValue)
                try writer.write(length)
                try writer.write(bytes: item.value)
            }
            // RFC 3550 §6.5: the terminating null octet, then nulls to the next 32-bit boundary.
            let used = writer.position - chunkStart
            try writer.writeZeros(RTCPWriting.padded(used + 1) - used)
        }
        try RTCPWriting.end(&writer, start: start)
    }
}
