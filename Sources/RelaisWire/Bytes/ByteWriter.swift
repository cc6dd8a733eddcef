/// The only error a serializer can meet: the destination is too small.
public struct BufferTooSmall: Error, Equatable, Sendable {
    /// Bytes the serializer needed in total.
    public let needed: Int
    /// Bytes the destination had.
    public let available: Int

    public init(needed: Int, available: Int) {
        self.needed = needed
        self.available = available
    }
}

/// A bounds-checked big-endian writer into caller-owned memory.
///
/// Builders on the media path write RTCP feedback and STUN responses into a per-loop scratch buffer,
/// so the writer never owns or grows storage; running out of room is a typed error, not a trap.
public struct ByteWriter {
    public let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far; the next write starts here.
    public private(set) var position: Int

    public init(_ buffer: UnsafeMutableRawBufferPointer, position: Int = 0) {
        self.buffer = buffer
        self.position = position
    }

    @inlinable
    public var remaining: Int { buffer.count - position }

    @inline(__always)
    mutating func reserve(_ n: Int) throws(BufferTooSmall) -> Int {
        guard n <= buffer.count - position else {
            throw BufferTooSmall(needed: position + n, available: buffer.count)
        }
        let at = position
        position += n
        return at
    }

    public mutating func write(_ value: UInt8) throws(BufferTooSmall) {
        let at = try reserve(1)
        buffer[at] = value
    }

    public mutating func write(_ value: UInt16) throws(BufferTooSmall) {
        let at = try reserve(2)
        buffer.setU16(value, at: at)
    }

    public mutating func write24(_ value: UInt32) throws(BufferTooSmall) {
        let at = try reserve(3)
        buffer.setU24(value, at: at)
    }

    public mutating func write(_ value: UInt32) throws(BufferTooSmall) {
        let at = try reserve(4)
        buffer.setU32(value, at: at)
    }

    public mutating func write(_ value: UInt64) throws(BufferTooSmall) {
        let at = try reserve(8)
        buffer.setU64(value, at: at)
    }

    public mutating func write(bytes: UnsafeRawBufferPointer) throws(BufferTooSmall) {
        let at = try reserve(bytes.count)
        if bytes.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[at..<at + bytes.count]).copyMemory(from: bytes)
        }
    }

    public mutating func write(bytes: some Collection<UInt8>) throws(BufferTooSmall) {
        let at = try reserve(bytes.count)
        var i = at
        for b in bytes {
            buffer[i] = b
            i += 1
        }
    }

    public mutating func writeZeros(_ n: Int) throws(BufferTooSmall) {
        let at = try reserve(n)
        for i in at..<at + n { buffer[i] = 0 }
    }

    /// Patches a big-endian `UInt16` at an earlier position (length fields written after the body).
    public func patch(_ value: UInt16, at offset: Int) {
        precondition(offset >= 0 && offset + 2 <= position, "patch outside written bytes")
        buffer.setU16(value, at: offset)
    }

    /// Patches a big-endian `UInt32` at an earlier position.
    public func patch(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= position, "patch outside written bytes")
        buffer.setU32(value, at: offset)
    }

    /// Patches a byte at an earlier position.
    public func patch(_ value: UInt8, at offset: Int) {
        precondition(offset >= 0 && offset < position, "patch outside written bytes")
        buffer[offset] = value
    }
}

extension ByteWriter {
    /// Runs `body` with a writer over a fresh array of `capacity` bytes and returns the bytes written.
    ///
    /// For tests and control-plane code; the media path writes into its own scratch buffers instead.
    public static func bytes(
        capacity: Int,
        _ body: (inout ByteWriter) throws(BufferTooSmall) -> Void
    ) throws(BufferTooSmall) -> [UInt8] {
        var storage = [UInt8](repeating: 0, count: capacity)
        var written = 0
        var failure: BufferTooSmall?
        storage.withUnsafeMutableBytes { raw in
            var writer = ByteWriter(raw)
            do throws(BufferTooSmall) {
                try body(&writer)
                written = writer.position
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        storage.removeSubrange(written...)
        return storage
    }
}
