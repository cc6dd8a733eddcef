public import RelaisWire

/// Rate-limits keyframe requests (PLI, RFC 4585 §6.3.1; FIR, RFC 5104 §4.3.1) from many subscribers
/// towards one publisher track.
///
/// Every subscriber that joins, switches layer or loses packets asks for a keyframe; forwarding all
/// of them would make the publisher's encoder emit keyframe after keyframe, each several times the
/// size of a normal frame, on a constrained uplink. One request per `interval` reaches the
/// publisher. A request that arrives inside the interval is not dropped but remembered, and `poll`
/// lets it through when the interval ends: a subscriber that joined just after the last keyframe
/// left must still get one, or it would wait for the encoder's periodic keyframe (often 10 s+).
public struct KeyframeRequestThrottle: Sendable {
    public let interval: Duration
    private let intervalNanoseconds: UInt64
    private var lastForwarded: Instant?
    private var pending = false

    /// Requests forwarded to the publisher, and requests folded into another.
    public private(set) var forwarded = 0
    public private(set) var suppressed = 0

    public init(interval: Duration = .milliseconds(500)) {
        self.interval = interval
        self.intervalNanoseconds = interval.nanosecondsClamped
    }

    private func intervalElapsed(at now: Instant) -> Bool {
        guard let last = lastForwarded else { return true }
        return now.nanoseconds(since: last) >= intervalNanoseconds
    }

    /// A subscriber asks for a keyframe. True: send the request to the publisher now. False: it is
    /// remembered and `poll` will release it at `nextDeadline`.
    public mutating func request(now: Instant) -> Bool {
        if intervalElapsed(at: now) {
            lastForwarded = now
            pending = false
            forwarded += 1
            return true
        }
        if pending { suppressed += 1 }
        pending = true
        return false
    }

    /// True when a remembered request is due: send one request to the publisher now.
    public mutating func poll(now: Instant) -> Bool {
        guard pending, intervalElapsed(at: now) else { return false }
        lastForwarded = now
        pending = false
        forwarded += 1
        return true
    }

    /// When `poll` will release the remembered request; nil when none is waiting.
    public var nextDeadline: Instant? {
        guard pending, let last = lastForwarded else { return nil }
        return last + interval
    }
}
