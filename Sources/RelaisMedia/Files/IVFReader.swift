/// The 32-byte IVF file header.
public struct IVFHeader: Sendable, Equatable {
    /// Codec FourCC, e.g. "VP80".
    public var fourcc: String
    public var width: Int
    public var height: Int
    /// Timestamps are in units of `timebaseNumerator / timebaseDenominator` seconds
    /// (the header stores the denominator as "rate" first, then the numerator as "scale").
    public var timebaseDenominator: UInt32
    public var timebaseNumerator: UInt32
    /// As declared by the writer; some writers leave it 0 or store a duration, so readers should not rely on it.
    public var declaredFrameCount: UInt32
    public var headerSize: Int

    public init(fourcc: String, width: Int, height: Int, timebaseDenominator: UInt32, timebaseNumerator: UInt32, declaredFrameCount: UInt32 = 0, headerSize: Int = 32) {
        self.fourcc = fourcc
        self.width = width
        self.height = height
        self.timebaseDenominator = timebaseDenominator
        self.timebaseNumerator = timebaseNumerator
        self.declaredFrameCount = declaredFrameCount
        self.headerSize = headerSize
    }
}

/// One IVF frame: a 12-byte header (size, 64-bit timestamp) and the compressed frame.
public struct IVFFrame: Sendable, Equatable {
    public var data: [UInt8]
    public var pts: Int64

    public init(data: [UInt8], pts: Int64) {
        self.data = data
        self.pts = pts
    }
}

/// Reads an IVF file (the container vpxenc and ffmpeg write for VP8/VP9) from memory.
///
/// Frames are read until the end of the data; a partial frame header or frame at the end is a
/// ``MediaFileError/truncated(what:offset:)``. Frame sizes above ``maxFrameBytes`` are rejected
/// before anything is allocated.
public struct IVFReader: Sendable {
    public static let fileHeaderSize = 32
    public static let frameHeaderSize = 12
    /// Largest frame accepted (16 MiB).
    public static let maxFrameBytes = 16 << 20

    public let header: IVFHeader
    private let bytes: [UInt8]
    /// Byte offset of the next frame header.
    public private(set) var offset: Int

    public init(bytes: [UInt8]) throws(MediaFileError) {
        guard bytes.count >= Self.fileHeaderSize else {
            throw .truncated(what: "IVF file header", offset: 0)
        }
        guard bytes[0] == 0x44, bytes[1] == 0x4B, bytes[2] == 0x49, bytes[3] == 0x46 else { // "DKIF"
            throw .badSignature(what: "IVF DKIF", offset: 0)
        }
        let version = bytes.le16(4)
        guard version == 0 else { throw .unsupported("IVF version \(version)") }
        let headerSize = Int(bytes.le16(6))
        guard headerSize >= Self.fileHeaderSize else {
            throw .corrupt(what: "IVF header size \(headerSize)", offset: 6)
        }
        guard headerSize <= bytes.count else { throw .truncated(what: "IVF file header", offset: bytes.count) }
        let fourccBytes = bytes[8..<12]
        let fourcc = String(decoding: fourccBytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
        self.header = IVFHeader(
            fourcc: fourcc,
            width: Int(bytes.le16(12)),
            height: Int(bytes.le16(14)),
            timebaseDenominator: bytes.le32(16),
            timebaseNumerator: bytes.le32(20),
            declaredFrameCount: bytes.le32(24),
            headerSize: headerSize
        )
        self.bytes = bytes
        self.offset = headerSize
    }

    /// The next frame, or nil at the end of the data.
    public mutating func next() throws(MediaFileError) -> IVFFrame? {
        guard offset < bytes.count else { return nil }
        guard bytes.count - offset >= Self.frameHeaderSize else {
            throw .truncated(what: "IVF frame header", offset: offset)
        }
        let size = Int(bytes.le32(offset))
        guard size <= Self.maxFrameBytes else {
            throw .tooLarge(what: "IVF frame", size: size, limit: Self.maxFrameBytes)
        }
        let pts = Int64(bitPattern: bytes.le64(offset + 4))
        let start = offset + Self.frameHeaderSize
        guard bytes.count - start >= size else { throw .truncated(what: "IVF frame of \(size) bytes", offset: start) }
        offset = start + size
        return IVFFrame(data: Array(bytes[start..<(start + size)]), pts: pts)
    }

    /// Every remaining frame.
    public mutating func readAll() throws(MediaFileError) -> [IVFFrame] {
        var frames: [IVFFrame] = []
        while let frame = try next() { frames.append(frame) }
        return frames
    }
}
