/// The Opus identification header (RFC 7845 section 5.1).
public struct OpusHead: Sendable, Equatable {
    public var version: UInt8
    public var channelCount: Int
    /// Samples (at 48 kHz) to discard from the start of the decoded output.
    public var preSkip: Int
    /// The original input's sample rate (informational; Opus always decodes at 48 kHz here).
    public var inputSampleRate: UInt32
    /// Q7.8 dB gain to apply to the output.
    public var outputGain: Int16
    public var channelMappingFamily: UInt8
}

/// One Opus packet from an Ogg Opus stream.
public struct OggOpusPacket: Sendable, Equatable {
    public var data: [UInt8]
    /// The page's granule position (48 kHz samples since the start, including pre-skip) when this
    /// is the last packet completed on its page; nil for the other packets on a page.
    public var granulePosition: Int64?
    /// Sequence number of the page on which the packet ends.
    public var pageSequence: UInt32
    /// Whether the packet ends on the stream's last page (end-of-stream flag).
    public var isEndOfStream: Bool
}

/// Reads Opus packets from an Ogg Opus file in memory (RFC 7845 over RFC 3533).
///
/// Checks every page's "OggS" capture pattern, version and CRC-32, follows packets across pages
/// (lacing value 255 continues a packet), checks page sequence numbers, requires `OpusHead` as the
/// first packet and `OpusTags` as the second (both are consumed, not returned), and ignores pages
/// of other logical streams. Packets are bounded by ``maxPacketBytes``; every malformed input ends in
/// a ``MediaFileError``.
public struct OggOpusReader: Sendable {
    /// Largest reassembled packet (OpusTags may carry cover art; audio packets are at most ~61 KB).
    public static let maxPacketBytes = 16 << 20
    static let pageHeaderSize = 27

    public let head: OpusHead
    /// The Opus logical stream's serial number.
    public let serial: UInt32

    private let bytes: [UInt8]
    private var offset = 0
    private var partial: [UInt8] = []
    private var hasPartial = false
    private var ready: [OggOpusPacket] = []
    private var readyIndex = 0
    private var nextSequence: UInt32? = nil
    private var ended = false

    public init(bytes: [UInt8]) throws(MediaFileError) {
        self.bytes = bytes
        // The first page must begin the stream with OpusHead alone on it.
        guard let first = try Self.page(in: bytes, at: 0) else {
            throw .truncated(what: "Ogg page", offset: 0)
        }
        guard first.headerType & 0x02 != 0 else { throw .corrupt(what: "first Ogg page without beginning-of-stream flag", offset: 0) }
        serial = first.serial
        head = try Self.parseHead(first)
        offset = first.end
        nextSequence = first.sequence &+ 1
        // The next packet must be OpusTags (possibly spanning pages); drop it.
        guard let tags = try nextPacket() else { throw .truncated(what: "OpusTags packet", offset: offset) }
        guard tags.data.count >= 8, Array(tags.data[0..<8]) == Array("OpusTags".utf8) else {
            throw .badSignature(what: "OpusTags", offset: offset)
        }
    }

    /// The next audio packet, or nil at the end of the stream.
    public mutating func next() throws(MediaFileError) -> OggOpusPacket? {
        try nextPacket()
    }

    /// Every remaining audio packet.
    public mutating func readAll() throws(MediaFileError) -> [OggOpusPacket] {
        var packets: [OggOpusPacket] = []
        while let packet = try next() { packets.append(packet) }
        return packets
    }

    private mutating func nextPacket() throws(MediaFileError) -> OggOpusPacket? {
        while readyIndex >= ready.count {
            ready.removeAll(keepingCapacity: true)
            readyIndex = 0
            guard !ended, offset < bytes.count else {
                if hasPartial { throw .truncated(what: "Ogg packet continued past the last page", offset: offset) }
                return nil
            }
            guard let page = try Self.page(in: bytes, at: offset) else { return nil }
            let pageOffset = offset
            offset = page.end
            guard page.serial == serial else { continue } // another multiplexed logical stream
            if let expected = nextSequence, page.sequence != expected {
                throw .corrupt(what: "Ogg page sequence \(page.sequence), expected \(expected)", offset: pageOffset)
            }
            nextSequence = page.sequence &+ 1
            try absorb(page, at: pageOffset)
            if page.headerType & 0x04 != 0 { ended = true }
        }
        defer { readyIndex += 1 }
        return ready[readyIndex]
    }

    /// Splits a page body into packets using its lacing values, continuing the partial packet.
    private mutating func absorb(_ page: Page, at pageOffset: Int) throws(MediaFileError) {
        let continued = page.headerType & 0x01 != 0
        guard continued == hasPartial else {
            throw .corrupt(what: continued ? "Ogg continuation page with no packet to continue" : "Ogg packet left unfinished by the previous page", offset: pageOffset)
        }
        var position = page.bodyStart
        var completed: [[UInt8]] = []
        for lacing in page.lacing {
            let length = Int(lacing)
            guard partial.count + length <= Self.maxPacketBytes else {
                throw .tooLarge(what: "Ogg packet", size: partial.count + length, limit: Self.maxPacketBytes)
            }
            partial.append(contentsOf: bytes[position..<(position + length)])
            position += length
            if lacing < 255 {
                completed.append(partial)
                partial.removeAll(keepingCapacity: false)
                hasPartial = false
            } else {
                hasPartial = true
            }
        }
        let eos = page.headerType & 0x04 != 0
        for (i, data) in completed.enumerated() {
            let last = i == completed.count - 1
            ready.append(OggOpusPacket(
                data: data,
                granulePosition: last && page.granule != -1 ? page.granule : nil,
                pageSequence: page.sequence,
                isEndOfStream: eos
            ))
        }
    }

    private static func parseHead(_ page: Page) throws(MediaFileError) -> OpusHead {
        // OpusHead must be the only packet on the first page and end on it.
        guard page.lacing.count >= 1, page.lacing.last! < 255 else {
            throw .corrupt(what: "OpusHead not alone on the first page", offset: 0)
        }
        let length = page.lacing.reduce(0) { $0 + Int($1) }
        guard page.lacing.dropLast().allSatisfy({ $0 == 255 }) else {
            throw .corrupt(what: "OpusHead not alone on the first page", offset: 0)
        }
        let p = Array(page.bytes[page.bodyStart..<(page.bodyStart + length)])
        guard p.count >= 8, Array(p[0..<8]) == Array("OpusHead".utf8) else {
            throw .badSignature(what: "OpusHead", offset: page.bodyStart)
        }
        guard p.count >= 19 else { throw .truncated(what: "OpusHead", offset: page.bodyStart + p.count) }
        let version = p[8]
        guard version >> 4 == 0 else { throw .unsupported("Opus header version \(version)") }
        let channels = Int(p[9])
        guard channels >= 1 else { throw .corrupt(what: "OpusHead channel count 0", offset: page.bodyStart + 9) }
        let family = p[18]
        if family == 0 {
            guard channels <= 2 else { throw .corrupt(what: "OpusHead mapping family 0 with \(channels) channels", offset: page.bodyStart + 9) }
        } else {
            guard p.count >= 21 + channels else { throw .truncated(what: "OpusHead channel mapping table", offset: page.bodyStart + p.count) }
        }
        return OpusHead(
            version: version,
            channelCount: channels,
            preSkip: Int(p.le16(10)),
            inputSampleRate: p.le32(12),
            outputGain: Int16(bitPattern: p.le16(16)),
            channelMappingFamily: family
        )
    }

    // MARK: Pages

    struct Page {
        let bytes: [UInt8]
        let headerType: UInt8
        let granule: Int64
        let serial: UInt32
        let sequence: UInt32
        let lacing: ArraySlice<UInt8>
        let bodyStart: Int
        let end: Int
    }

    /// Parses and CRC-checks the page at `offset`; nil at the exact end of the data.
    static func page(in bytes: [UInt8], at offset: Int) throws(MediaFileError) -> Page? {
        guard offset < bytes.count else { return nil }
        guard bytes.count - offset >= pageHeaderSize else { throw .truncated(what: "Ogg page header", offset: offset) }
        guard bytes[offset] == 0x4F, bytes[offset + 1] == 0x67, bytes[offset + 2] == 0x67, bytes[offset + 3] == 0x53 else {
            throw .badSignature(what: "Ogg OggS", offset: offset)
        }
        guard bytes[offset + 4] == 0 else { throw .unsupported("Ogg stream structure version \(bytes[offset + 4])") }
        let segments = Int(bytes[offset + 26])
        let tableStart = offset + pageHeaderSize
        guard bytes.count - tableStart >= segments else { throw .truncated(what: "Ogg segment table", offset: tableStart) }
        let lacing = bytes[tableStart..<(tableStart + segments)]
        let bodyLength = lacing.reduce(0) { $0 + Int($1) }
        let bodyStart = tableStart + segments
        guard bytes.count - bodyStart >= bodyLength else { throw .truncated(what: "Ogg page body", offset: bodyStart) }
        let end = bodyStart + bodyLength
        let stored = bytes.le32(offset + 22)
        guard crc32(bytes, from: offset, to: end, crcField: offset + 22) == stored else {
            throw .corrupt(what: "Ogg page checksum", offset: offset)
        }
        return Page(
            bytes: bytes,
            headerType: bytes[offset + 5],
            granule: Int64(bitPattern: bytes.le64(offset + 6)),
            serial: bytes.le32(offset + 14),
            sequence: bytes.le32(offset + 18),
            lacing: lacing,
            bodyStart: bodyStart,
            end: end
        )
    }

    /// Ogg's CRC-32: polynomial 0x04C11DB7, initial 0, not reflected, no final xor, computed with the
    /// four checksum bytes taken as zero.
    static func crc32(_ bytes: [UInt8], from start: Int, to end: Int, crcField: Int) -> UInt32 {
        var crc: UInt32 = 0
        for i in start..<end {
            let byte: UInt8 = (crcField..<(crcField + 4)).contains(i) ? 0 : bytes[i]
            crc = (crc << 8) ^ crcTable[Int(((crc >> 24) ^ UInt32(byte)) & 0xFF)]
        }
        return crc
    }

    static let crcTable: [UInt32] = (0..<256).map { (n: Int) -> UInt32 in
        var r = UInt32(n) << 24
        for _ in 0..<8 { r = r & 0x8000_0000 != 0 ? (r << 1) ^ 0x04C1_1DB7 : r << 1 }
        return r
    }
}
