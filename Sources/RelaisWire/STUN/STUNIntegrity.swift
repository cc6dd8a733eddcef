internal import COpenSSL

/// HMAC-SHA1 for MESSAGE-INTEGRITY (RFC 8489 §14.5) and CRC-32 for FINGERPRINT (§14.7).
public enum STUNIntegrity {
    /// A 20-byte SHA-1 digest held inline, so computing one allocates nothing.
    public struct Digest: Equatable, Sendable {
        public var bytes: (UInt64, UInt64, UInt32) = (0, 0, 0)

        public init() {}

        public static func == (a: Digest, b: Digest) -> Bool {
            a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2
        }

        /// Compares with 20 bytes without early exit, so timing says nothing about the tag.
        public func constantTimeEquals(_ other: UnsafeRawBufferPointer) -> Bool {
            guard other.count == 20 else { return false }
            var copy = self
            return withUnsafeBytes(of: &copy.bytes) { mine in
                var diff: UInt8 = 0
                for i in 0..<20 { diff |= mine[i] ^ other[i] }
                return diff == 0
            }
        }

        public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            var copy = self
            return try withUnsafeBytes(of: &copy.bytes) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        }
    }

    /// Largest message this computes over without a heap buffer; ICE checks are ~100 bytes.
    static let stackLimit = 1500

    /// HMAC-SHA1 of `message` with bytes 2..<4 (the STUN length field) replaced by `lengthOverride`.
    ///
    /// STUN authenticates the header as if the message ended after MESSAGE-INTEGRITY, so the input
    /// is copied once into a temporary buffer (on the stack for any real check) with the length patched.
    public static func hmacSHA1(
        key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, lengthOverride: UInt16,
        into digest: inout Digest
    ) {
        precondition(message.count >= 4, "STUN header is at least 4 bytes")  // callers pass ≥ 20 bytes
        withUnsafeTemporaryAllocation(byteCount: message.count, alignment: 8) { scratch in
            scratch.copyMemory(from: message)
            scratch.setU16(lengthOverride, at: 2)
            withUnsafeMutableBytes(of: &digest.bytes) { out in
                var outLength: UInt32 = 0
                _ = HMAC(
                    EVP_sha1(), key.baseAddress, Int32(key.count),
                    scratch.baseAddress?.assumingMemoryBound(to: UInt8.self), scratch.count,
                    out.baseAddress?.assumingMemoryBound(to: UInt8.self), &outLength)
            }
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as STUN's FINGERPRINT uses.
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes {
                crc = t[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8)
            }
        }
        return crc ^ 0xFFFF_FFFF
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
