public import RelaisWire

/// Why the relay did not answer one sequence number of a subscriber's NACK (RFC 4585 §6.2.1).
/// Each is counted, per consumer and per media loop.
public enum NackRefusal: Sendable, Hashable {
    /// The packet was already resent (or listed again in the same NACK) within the last round trip:
    /// a second copy cannot arrive sooner than the first, so it only costs bandwidth.
    case repeatedWithinRoundTrip
    /// The subscriber's retransmission budget for the current window is spent.
    case overBudget
}

/// Answers each output sequence number of one consumer at most once per round trip.
///
/// A NACK is a request for a packet the receiver has not got; asking again before a round trip has
/// passed cannot be answered usefully (the first retransmission is still on its way), and a hostile
/// or buggy receiver can list the same numbers thousands of times a second (mediasoup's
/// RtpStreamSend ignores a request for a packet resent less than an RTT ago for the same reason).
/// Duplicates inside one NACK (several PID+BLP pairs naming one number, RFC 4585 §6.2.1) fall out
/// of the same rule: the second mention arrives at the same instant as the first.
///
/// The interval is the consumer's round-trip time from its receiver reports, clamped to
/// `minimumInterval...maximumInterval` (a receiver controls the DLSR that RTT is computed from, so
/// a forged tiny RTT must not open the gate), or `defaultInterval` while the RTT is unknown.
///
/// Storage: a ring of `slotCount` entries indexed by sequence number, allocated at init (a request
/// for a number whose slot holds another number is simply allowed: the retransmission buffer has
/// the same span, so the overwritten number is no longer answerable anyway). No allocation after.
public struct RetransmissionGate: Sendable {
    public static let slotCount = 1024
    public static let defaultInterval: Duration = .milliseconds(100)
    public static let minimumInterval: Duration = .milliseconds(20)
    public static let maximumInterval: Duration = .seconds(1)

    /// Sequence number + 1 of the slot's last request (0: empty), and when it was admitted.
    private var sequences: [UInt32]
    private var admittedAt: [UInt64]

    public init() {
        sequences = [UInt32](repeating: 0, count: Self.slotCount)
        admittedAt = [UInt64](repeating: 0, count: Self.slotCount)
    }

    /// The least time between two answers for one sequence number, given the consumer's RTT.
    public static func interval(roundTrip: Duration?) -> Duration {
        guard let roundTrip else { return defaultInterval }
        return min(max(roundTrip, minimumInterval), maximumInterval)
    }

    /// True (and remembered) when `sequence` was not admitted within the last `interval`.
    public mutating func admit(_ sequence: SequenceNumber, now: Instant, interval: Duration) -> Bool {
        let slot = Int(sequence.rawValue) & (Self.slotCount - 1)
        let tag = UInt32(sequence.rawValue) + 1
        if sequences[slot] == tag, now.nanoseconds(since: Instant(nanoseconds: admittedAt[slot])) < interval.nanosecondsClamped {
            return false
        }
        sequences[slot] = tag
        admittedAt[slot] = now.nanoseconds
        return true
    }
}

/// How many bytes the relay retransmits to one subscriber: a share of what it forwards to it.
///
/// Retransmissions answer loss; on a healthy link they are a few percent of the stream. A NACK
/// costs the subscriber a few bytes and the relay a cache lookup, a protect and a full packet on
/// the wire, so without a bound one subscriber listing thousands of numbers many times a second
/// turns the relay into an amplifier against its own uplink. The budget: over a sliding `window`,
/// retransmitted bytes stay within `sharePercent` of the bytes forwarded (retransmissions
/// excluded) plus `floorBytes`, so a stream that just started (or a low-rate one) can still
/// recover a few packets. Beyond it, requests are refused as `.overBudget` and counted.
///
/// Sans-IO: the caller reports the subscriber's cumulative forwarded bytes (`update`, on its timer
/// tick and before answering a NACK) and asks `admit` per packet. The window is `bucketCount`
/// buckets; each bucket remembers the totals as they stood when it began, so the window's base is
/// the oldest bucket still inside it (the window is between `window - window / bucketCount` and
/// `window` long). Storage is allocated at init; nothing allocates after.
public struct RetransmissionBudget: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Retransmitted bytes allowed, as a percentage of forwarded bytes over the window.
        public var sharePercent: Int = 20
        /// Retransmitted bytes allowed per window whatever was forwarded (five 1200-byte packets).
        public var floorBytes: Int = 6_000
        /// Length of the sliding window.
        public var window: Duration = .seconds(1)

        public init() {}
    }

    public static let bucketCount = 10

    public let configuration: Configuration
    private let bucketNanoseconds: UInt64

    private struct Mark: Sendable {
        var bucket: UInt64
        var forwarded: Int
        var retransmitted: Int
    }

    private var marks: [Mark]
    private var head = 0
    private var currentBucket: UInt64?
    /// The forwarded total at the last `update`, and the retransmitted total so far.
    public private(set) var forwardedTotal = 0
    public private(set) var retransmittedTotal = 0
    private var baseForwarded = 0
    private var baseRetransmitted = 0
    /// Packets refused by the budget.
    public private(set) var refused = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        bucketNanoseconds = max(configuration.window.nanosecondsClamped / UInt64(Self.bucketCount), 1)
        marks = [Mark](repeating: Mark(bucket: 0, forwarded: 0, retransmitted: 0), count: Self.bucketCount)
    }

    /// Takes the subscriber's cumulative forwarded bytes (retransmissions excluded). A total that
    /// goes down (a consumer removed with its counts) is taken as is; the window clamps at zero.
    public mutating func update(forwardedTotal total: Int, now: Instant) {
        let bucket = now.nanoseconds / bucketNanoseconds
        if currentBucket.map({ bucket > $0 }) ?? true {
            // The new bucket starts from the totals last seen: what was forwarded since the previous
            // update is attributed to it (updates come at least every timer tick).
            marks[head] = Mark(bucket: bucket, forwarded: forwardedTotal, retransmitted: retransmittedTotal)
            head = head + 1 == Self.bucketCount ? 0 : head + 1
            currentBucket = bucket
            rebase(bucket)
        }
        forwardedTotal = total
    }

    /// Bytes forwarded and retransmitted inside the window (as of the last `update`).
    public var forwardedInWindow: Int { max(forwardedTotal - baseForwarded, 0) }
    public var retransmittedInWindow: Int { max(retransmittedTotal - baseRetransmitted, 0) }

    /// Retransmitted bytes the window allows.
    public var allowance: Int {
        let share = max(configuration.sharePercent, 0)
        let earned = forwardedInWindow / 100 * share + forwardedInWindow % 100 * share / 100
        return earned &+ max(configuration.floorBytes, 0)
    }

    /// True (and charged) when retransmitting `bytes` now stays within the allowance.
    public mutating func admit(bytes: Int) -> Bool {
        guard bytes >= 0, retransmittedInWindow + bytes <= allowance else {
            refused += 1
            return false
        }
        retransmittedTotal += bytes
        return true
    }

    /// The base is the oldest mark inside the window ending at `bucket`.
    private mutating func rebase(_ bucket: UInt64) {
        let oldestAllowed = bucket >= UInt64(Self.bucketCount - 1) ? bucket - UInt64(Self.bucketCount - 1) : 0
        var best: Mark?
        for mark in marks where mark.bucket >= oldestAllowed && mark.bucket <= bucket {
            if best.map({ mark.bucket < $0.bucket }) ?? true { best = mark }
        }
        baseForwarded = best?.forwarded ?? forwardedTotal
        baseRetransmitted = best?.retransmitted ?? retransmittedTotal
    }
}
