/// Why a media container (IVF, Ogg) could not be read or written. Readers never trap on input:
/// every malformed, truncated or oversized file ends in one of these.
public enum MediaFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file ended inside a header, frame, page or packet. `offset` is where the missing part starts.
    case truncated(what: String, offset: Int)
    /// A magic number ("DKIF", "OggS", "OpusHead", "OpusTags") is missing.
    case badSignature(what: String, offset: Int)
    /// Well-formed but not something this reader handles (e.g. an Ogg version other than 0).
    case unsupported(String)
    /// A declared size exceeds the reader's bound (bounded allocation on hostile input).
    case tooLarge(what: String, size: Int, limit: Int)
    /// Inconsistent contents: checksum mismatch, sequence gap, bad field value.
    case corrupt(what: String, offset: Int)

    public var description: String {
        switch self {
        case .truncated(let what, let offset): return "truncated \(what) at byte \(offset)"
        case .badSignature(let what, let offset): return "missing \(what) signature at byte \(offset)"
        case .unsupported(let what): return "unsupported: \(what)"
        case .tooLarge(let what, let size, let limit): return "\(what) of \(size) bytes exceeds the \(limit)-byte limit"
        case .corrupt(let what, let offset): return "corrupt \(what) at byte \(offset)"
        }
    }
}

/// Little-endian reads from a byte array with bounds already checked by the caller.
extension Array where Element == UInt8 {
    func le16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func le32(_ at: Int) -> UInt32 { UInt32(le16(at)) | UInt32(le16(at + 2)) << 16 }
    func le64(_ at: Int) -> UInt64 { UInt64(le32(at)) | UInt64(le32(at + 4)) << 32 }

    mutating func appendLE16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    mutating func appendLE32(_ v: UInt32) { appendLE16(UInt16(v & 0xFFFF)); appendLE16(UInt16(v >> 16)) }
    mutating func appendLE64(_ v: UInt64) { appendLE32(UInt32(v & 0xFFFF_FFFF)); appendLE32(UInt32(v >> 32)) }
}
