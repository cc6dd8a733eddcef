/// Token bucket over a connection's messages: `rate` per second sustained, `burst` at once.
/// Driven by the caller's clock (seconds as Double), so tests need no sleeping.
public struct MessageRateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var last: Double?
    /// When the last `rate_limited` error was sent, so a flood gets one error a second, not one per message.
    private var lastRefusalReported: Double?

    public init(rate: Int, burst: Int) {
        self.rate = Double(max(rate, 1))
        self.burst = Double(max(burst, 1))
        self.tokens = self.burst
    }

    public enum Verdict: Equatable, Sendable {
        case allow
        /// Discard the message and tell the client.
        case refuse
        /// Discard the message silently (already told within the last second).
        case refuseQuietly
    }

    public mutating func admit(now: Double) -> Verdict {
        if let last { tokens = min(burst, tokens + (now - last) * rate) }
        last = now
        if tokens >= 1 {
            tokens -= 1
            return .allow
        }
        if let reported = lastRefusalReported, now - reported < 1 { return .refuseQuietly }
        lastRefusalReported = now
        return .refuse
    }
}
