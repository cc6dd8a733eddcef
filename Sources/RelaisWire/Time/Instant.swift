/// Time as the protocol cores (transport, forwarding) see it: nanoseconds on a monotonic clock the owner supplies.
///
/// Cores never read a clock themselves; the NIO layer passes `NIODeadline.now()` converted to this,
/// tests pass a fake clock, so a 30-second consent timeout runs in microseconds in a test.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    @inlinable public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds &+ d.nanosecondsClamped)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    @inlinable public func since(_ earlier: Instant) -> Duration {
        nanoseconds >= earlier.nanoseconds ? .nanoseconds(Int64(nanoseconds - earlier.nanoseconds)) : .zero
    }

    /// Nanoseconds from `earlier` to `self`, zero if `earlier` is later: `since` without building a
    /// `Duration`, for per-packet deadline arithmetic.
    @inlinable public func nanoseconds(since earlier: Instant) -> UInt64 {
        nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0
    }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

/// Converts a span of nanoseconds to RTP clock ticks (RFC 3550 §5.1: the timestamp clock runs at
/// the payload format's rate), without overflowing for any realistic span.
@inlinable public func rtpTicks(nanoseconds: UInt64, clockRate: UInt32) -> UInt64 {
    let rate = UInt64(clockRate)
    return (nanoseconds / 1_000_000_000) &* rate &+ (nanoseconds % 1_000_000_000) &* rate / 1_000_000_000
}

extension Duration {
    /// Non-negative nanoseconds, saturating; for deadline arithmetic.
    @inlinable public var nanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}
