import RelaisWire
import RelaisSFU

/// Shorthand for fake-clock instants in tests.
func ms(_ milliseconds: UInt64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }
func us(_ microseconds: UInt64) -> Instant { Instant(nanoseconds: microseconds * 1_000) }

extension Array where Element == UInt8 {
    /// Runs `body` over the bytes as a raw buffer.
    func withRaw<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}
