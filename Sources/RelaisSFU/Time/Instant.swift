/// Time as the forwarding core sees it: nanoseconds on a monotonic clock the owner supplies.
///
/// The cores never read a clock: the media loop passes its receive time, tests pass a fake clock,
/// so a ten-second lossy-link simulation runs in milliseconds and the same way every time.
///
/// This mirrors `RelaisTransport.Instant` field for field. RelaisSFU depends on RelaisWire only, and
/// `Instant` lives in RelaisTransport, so the SFU carries its own until `Instant` moves down into
/// RelaisWire; then this file is deleted and every call site keeps compiling. A file that imports
/// both RelaisTransport and RelaisSFU before that must qualify the name and convert at the edge
/// (`Instant(nanoseconds: now.nanoseconds)` is free).
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    @inlinable public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds &+ d.sfuNanosecondsClamped)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    @inlinable public func since(_ earlier: Instant) -> Duration {
        nanoseconds >= earlier.nanoseconds ? .nanoseconds(Int64(clamping: nanoseconds - earlier.nanoseconds)) : .zero
    }

    /// Nanoseconds from `earlier` to `self`, zero if `earlier` is later.
    func nanoseconds(since earlier: Instant) -> UInt64 {
        nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0
    }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// Non-negative nanoseconds, saturating. Named apart from RelaisTransport's public
    /// `nanosecondsClamped` so a file importing both modules sees no ambiguity.
    @usableFromInline var sfuNanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}

/// Converts a span of nanoseconds to RTP clock ticks (RFC 3550 §5.1: the timestamp clock runs at
/// the payload format's rate), without overflowing for any realistic span.
func rtpTicks(nanoseconds: UInt64, clockRate: UInt32) -> UInt64 {
    let rate = UInt64(clockRate)
    return (nanoseconds / 1_000_000_000) &* rate &+ (nanoseconds % 1_000_000_000) &* rate / 1_000_000_000
}
