/// Writes an IVF file in memory (sans-IO: the caller puts the bytes on disk).
///
/// Either append everything and read ``bytes`` at the end, or stream: call ``takeBytes()`` after
/// appends and write what it returns; when done, overwrite the first 32 bytes of the file with
/// ``headerBytes()`` to record the final frame count.
public struct IVFWriter: Sendable {
    public let header: IVFHeader
    public private(set) var frameCount: UInt32 = 0
    /// Frames appended and not yet taken.
    private var pending: [UInt8] = []
    private var headerTaken = false

    /// - Parameters:
    ///   - fourcc: 4 ASCII characters ("VP80" for VP8, "VP90" for VP9).
    ///   - timebaseDenominator/Numerator: pts units, e.g. 1/30 (frame numbers at 30 fps) or 1/90000.
    public init(width: Int, height: Int, fourcc: String = "VP80", timebaseNumerator: UInt32 = 1, timebaseDenominator: UInt32 = 30) throws(MediaFileError) {
        let fourccBytes = Array(fourcc.utf8)
        guard fourccBytes.count == 4 else { throw .unsupported("IVF FourCC must be 4 bytes, got \"\(fourcc)\"") }
        guard (1...65535).contains(width), (1...65535).contains(height) else {
            throw .unsupported("IVF size \(width)x\(height) does not fit 16 bits")
        }
        guard timebaseNumerator > 0, timebaseDenominator > 0 else { throw .unsupported("IVF timebase must be positive") }
        header = IVFHeader(fourcc: fourcc, width: width, height: height, timebaseDenominator: timebaseDenominator, timebaseNumerator: timebaseNumerator)
    }

    /// The 32-byte file header with the current frame count.
    public func headerBytes() -> [UInt8] {
        var out: [UInt8] = Array("DKIF".utf8)
        out.appendLE16(0)   // version
        out.appendLE16(32)  // header size
        out.append(contentsOf: header.fourcc.utf8)
        out.appendLE16(UInt16(header.width))
        out.appendLE16(UInt16(header.height))
        out.appendLE32(header.timebaseDenominator)
        out.appendLE32(header.timebaseNumerator)
        out.appendLE32(frameCount)
        out.appendLE32(0)   // unused
        return out
    }

    public mutating func append(_ frame: IVFFrame) throws(MediaFileError) {
        try append(frame.data, pts: frame.pts)
    }

    public mutating func append(_ data: [UInt8], pts: Int64) throws(MediaFileError) {
        guard data.count <= IVFReader.maxFrameBytes else {
            throw .tooLarge(what: "IVF frame", size: data.count, limit: IVFReader.maxFrameBytes)
        }
        guard frameCount < UInt32.max else { throw .unsupported("more than 2^32-1 IVF frames") }
        var frameHeader: [UInt8] = []
        frameHeader.reserveCapacity(IVFReader.frameHeaderSize)
        frameHeader.appendLE32(UInt32(data.count))
        frameHeader.appendLE64(UInt64(bitPattern: pts))
        pending.append(contentsOf: frameHeader)
        pending.append(contentsOf: data)
        frameCount += 1
    }

    /// The whole file (header with the current frame count, then every frame) as long as
    /// ``takeBytes()`` was never called; after that, the header plus the frames not yet taken.
    public var bytes: [UInt8] { headerBytes() + pending }

    /// Streaming: the bytes not yet taken (the header first time, with the frame count so far).
    public mutating func takeBytes() -> [UInt8] {
        var out: [UInt8] = []
        if !headerTaken {
            out = headerBytes()
            headerTaken = true
        }
        out.append(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
        return out
    }
}
