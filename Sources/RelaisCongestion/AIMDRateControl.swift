public import RelaisWire

/// What the receiver got: bytes acknowledged by transport-wide feedback over a sliding window of
/// arrival time, the base of every decrease (a sender that lowers to a fraction of what arrives
/// drains the queue it built).
public struct AcknowledgedBitrate: Sendable {
    static let windowMicros: Int64 = 500_000
    /// Arrival time and size of the acknowledged packets in the window, a ring.
    private var arrivals: [(micros: Int64, bytes: Int)]
    private var head = 0
    private var count = 0
    private var bytesInWindow = 0
    static let capacity = 2048

    public init() {
        arrivals = Array(repeating: (0, 0), count: Self.capacity)
    }

    /// One packet the receiver got, in arrival order (roughly; older ones than the window are ignored).
    public mutating func add(arrivalMicros: Int64, bytes: Int) {
        if count == Self.capacity { drop() }
        arrivals[(head + count) % Self.capacity] = (arrivalMicros, bytes)
        count += 1
        bytesInWindow += bytes
        let newest = arrivalMicros
        while count > 0, arrivals[head].micros < newest - Self.windowMicros { drop() }
    }

    private mutating func drop() {
        bytesInWindow -= arrivals[head].bytes
        head = (head + 1) % Self.capacity
        count -= 1
    }

    /// Bits per second over the window, once it spans at least 150 ms of arrivals.
    public var bitsPerSecond: Int? {
        guard count >= 2 else { return nil }
        let first = arrivals[head].micros
        let last = arrivals[(head + count - 1) % Self.capacity].micros
        let span = max(last - first, 0)
        guard span >= 150_000 else { return nil }
        return Int(Int64(bytesInWindow) * 8 * 1_000_000 / span)
    }
}

/// The rate half of GCC's delay-based controller (draft-ietf-rmcat-gcc-02 §5.5, libwebrtc's
/// AimdRateControl): decrease to 85% of the acknowledged rate on overuse, hold while the queue
/// drains, increase otherwise: 8% a second while far from the rate of the last decrease, about a
/// packet per response time near it (the link's capacity is probably there).
public struct AIMDRateControl: Sendable {
    public private(set) var target: Int
    public let minBitrate: Int
    public let maxBitrate: Int
    static let beta = 0.85
    private var lastChange: Instant?
    private var lastDecrease: Instant?
    /// The acknowledged rates at decreases: their running mean and variance locate the link's
    /// capacity (kbit/s), as libwebrtc's LinkCapacityEstimator.
    private var capacityMean: Double?
    private var capacityVariance = 0.4

    public init(start: Int, min: Int, max: Int) {
        self.minBitrate = min
        self.maxBitrate = max
        self.target = Swift.min(Swift.max(start, min), max)
    }

    /// Updates the target for the detector's latest usage; `acknowledged` is what the receiver got,
    /// `roundTrip` the last round-trip estimate.
    public mutating func update(_ usage: DelayBasedDetector.Usage, acknowledged: Int?, roundTrip: Duration, now: Instant) {
        let elapsed = lastChange.map { Swift.min(now.since($0), .seconds(1)) } ?? .zero
        lastChange = now
        switch usage {
        case .overusing:
            // At most one decrease per round trip: the next feedback still shows the old queue.
            if let last = lastDecrease, now.since(last) < Swift.max(roundTrip, .milliseconds(100)) { return }
            lastDecrease = now
            let base = acknowledged ?? target
            let decreased = Int(Double(base) * Self.beta)
            if let acknowledged { recordCapacity(kbps: Double(acknowledged) / 1000) }
            target = Swift.max(Swift.min(decreased, target), minBitrate)
        case .underusing:
            break  // the queue drains: hold
        case .normal:
            let before = target
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            if let mean = capacityMean, abs(Double(target) / 1000 - mean) < 3 * (capacityVariance * mean).squareRoot() {
                // Near the last congestion: about one 1200-byte packet per response time a second.
                let response = 0.1 + Double(roundTrip.components.attoseconds) * 1e-18 + Double(roundTrip.components.seconds)
                target += Swift.max(Int(9_600 / response * seconds), 1_000)
            } else {
                target = Int(Double(target) * pow108(seconds)) + 1_000
            }
            // Never grow far above what actually arrives (a probe may have set it higher: kept).
            if let acknowledged {
                let limit = Int(Double(acknowledged) * 1.5) + 10_000
                if target > limit { target = Swift.max(before, limit) }
            }
            target = Swift.min(Swift.max(target, minBitrate), maxBitrate)
        }
    }

    /// 1.08 to the power `seconds` (≤ 1), without Foundation: exp(seconds × ln 1.08) by its series.
    func pow108(_ seconds: Double) -> Double {
        let x = seconds * 0.076_961_041_136_128_33
        return 1 + x + x * x / 2 + x * x * x / 6
    }

    private mutating func recordCapacity(kbps: Double) {
        guard let mean = capacityMean else {
            capacityMean = kbps
            return
        }
        // Far from what was seen: the capacity changed; start over from this estimate.
        if abs(kbps - mean) > 3 * (capacityVariance * mean).squareRoot() {
            capacityMean = kbps
            capacityVariance = 0.4
            return
        }
        let updated = 0.95 * mean + 0.05 * kbps
        let normalized = (kbps - updated) * (kbps - updated) / Swift.max(updated, 1)
        capacityVariance = Swift.min(Swift.max(0.95 * capacityVariance + 0.05 * normalized, 0.4), 2.5)
        capacityMean = updated
    }

    /// A probe showed the path carries `bitrate`: the target starts from there (never lowered
    /// here), and the capacity seen at earlier decreases no longer applies.
    public mutating func raise(to bitrate: Int, now: Instant) {
        guard bitrate > target else { return }
        target = Swift.min(bitrate, maxBitrate)
        capacityMean = nil
        lastChange = now
    }

    /// Forgets the capacity (the network changed) so that the next increases are multiplicative.
    public mutating func forgetCapacity() { capacityMean = nil }
}
