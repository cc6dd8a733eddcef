// Network byte order loads and stores over raw buffers.
//
// Every parser in RelaisWire is a view over a datagram that the I/O layer already owns: it checks
// lengths once, then reads fields with these unchecked big-endian helpers. Callers prove bounds
// before calling; the helpers themselves never allocate.

extension UnsafeRawBufferPointer {
    /// Reads a byte at `offset`. The caller has checked `offset < count`.
    @inlinable @inline(__always)
    public func u8(at offset: Int) -> UInt8 {
        self[offset]
    }

    /// Reads a big-endian `UInt16` at `offset`. The caller has checked `offset + 2 <= count`.
    @inlinable @inline(__always)
    public func u16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Reads a big-endian 24-bit unsigned value at `offset`. The caller has checked `offset + 3 <= count`.
    @inlinable @inline(__always)
    public func u24(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 16 | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2])
    }

    /// Reads a big-endian `UInt32` at `offset`. The caller has checked `offset + 4 <= count`.
    @inlinable @inline(__always)
    public func u32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Reads a big-endian `UInt64` at `offset`. The caller has checked `offset + 8 <= count`.
    @inlinable @inline(__always)
    public func u64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Writes a big-endian `UInt16` at `offset`. The caller has checked `offset + 2 <= count`.
    @inlinable @inline(__always)
    public func setU16(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Writes a big-endian 24-bit value at `offset`. The caller has checked `offset + 3 <= count`.
    @inlinable @inline(__always)
    public func setU24(_ value: UInt32, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 16)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 2] = UInt8(truncatingIfNeeded: value)
    }

    /// Writes a big-endian `UInt32` at `offset`. The caller has checked `offset + 4 <= count`.
    @inlinable @inline(__always)
    public func setU32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Writes a big-endian `UInt64` at `offset`. The caller has checked `offset + 8 <= count`.
    @inlinable @inline(__always)
    public func setU64(_ value: UInt64, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}
