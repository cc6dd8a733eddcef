public import RelaisWire

/// How many bytes a sender may put on the wire now: a budget refilled at `factor` times the
/// congestion controller's target (libwebrtc paces at 2.5×), so that a keyframe leaves as a
/// quick stream of packets instead of one burst that a shallow drop-tail queue on the path would
/// cut. The budget may go into debt by one packet and carries at most `maxBurst` of credit.
///
/// Sans-IO: the caller asks before each packet and tells what it sent; `delayUntilNext` says when
/// to come back.
public struct PacingBudget: Sendable {
    public static let factor = 2.5
    /// Credit kept while idle: a little burst is fine, a second's worth is not.
    public static let maxBurst: Duration = .milliseconds(10)
    /// A queue that would take longer than this at the pacing rate is sent faster: pacing must not
    /// turn into latency.
    public static let maxQueueDelay: Duration = .milliseconds(300)

    /// The pacing rate, bits per second.
    public private(set) var rate: Int
    private var budget = 0.0
    private var last: Instant?

    public init(targetBitrate: Int) {
        rate = Int(Double(targetBitrate) * Self.factor)
    }

    /// Follows the controller's target; `queuedBytes` waiting raise the rate so that they leave
    /// within `maxQueueDelay`.
    public mutating func update(targetBitrate: Int, queuedBytes: Int) {
        let drain = queuedBytes * 8 * 1000 / Int(Self.maxQueueDelay.components.seconds * 1000 + Self.maxQueueDelay.components.attoseconds / 1_000_000_000_000_000)
        rate = max(Int(Double(targetBitrate) * Self.factor), drain, 1)
    }

    /// Whether a packet may leave now (the budget is not in debt).
    public mutating func mayRelease(now: Instant) -> Bool {
        refill(now: now)
        return budget > 0
    }

    /// A packet of `bytes` left.
    public mutating func sent(bytes: Int) {
        budget -= Double(bytes)
    }

    /// How long until the budget is out of debt again.
    public func delayUntilNext() -> Duration {
        guard budget <= 0 else { return .zero }
        return .microseconds(Int64((-budget * 8 * 1_000_000 / Double(rate)).rounded(.up)) + 1)
    }

    private mutating func refill(now: Instant) {
        defer { last = now }
        guard let last else { return }
        let seconds = Double(now.nanoseconds(since: last)) / 1e9
        let cap = Double(rate) / 8 * (Double(Self.maxBurst.components.attoseconds) / 1e18)
        budget = min(budget + Double(rate) / 8 * seconds, cap)
    }
}
