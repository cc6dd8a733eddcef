public import RelaisWire

extension Instant {
    /// Nanoseconds from `earlier` to `self`, zero if `earlier` is later.
    func nanoseconds(since earlier: Instant) -> UInt64 {
        nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0
    }
}

extension Duration {
    /// Non-negative nanoseconds, saturating (RelaisWire's `nanosecondsClamped` under the SFU's name).
    @inlinable var sfuNanosecondsClamped: UInt64 { nanosecondsClamped }
}

/// Converts a span of nanoseconds to RTP clock ticks (RFC 3550 §5.1: the timestamp clock runs at
/// the payload format's rate), without overflowing for any realistic span.
func rtpTicks(nanoseconds: UInt64, clockRate: UInt32) -> UInt64 {
    let rate = UInt64(clockRate)
    return (nanoseconds / 1_000_000_000) &* rate &+ (nanoseconds % 1_000_000_000) &* rate / 1_000_000_000
}
