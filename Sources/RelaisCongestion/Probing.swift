public import RelaisWire

/// A short burst the sender transmits at `bitrate` (padding when media does not fill it) to learn
/// whether the path carries that much: the delay-based controller only ever climbs 8% a second,
/// so after a capacity returns it is probing that finds it (libwebrtc's ProbeController and
/// ProbeBitrateEstimator work the same way).
public struct ProbeCluster: Sendable, Equatable {
    public var id: Int
    /// Bits per second to send the cluster's packets at.
    public var bitrate: Int
    /// The cluster is only judged once this many of its packets and bytes were reported.
    public var minPackets: Int
    public var minBytes: Int

    public init(id: Int, bitrate: Int, minPackets: Int, minBytes: Int) {
        self.id = id
        self.bitrate = bitrate
        self.minPackets = minPackets
        self.minBytes = minBytes
    }

    /// How long sending `minBytes` at `bitrate` takes.
    public var duration: Duration { .microseconds(Int64(minBytes) * 8 * 1_000_000 / Int64(max(bitrate, 1))) }
}

/// Decides when to probe and how high: right after start (3× and 6× the start rate), again at
/// twice the result while a probe keeps succeeding, and otherwise every `interval` while the
/// estimate is under the ceiling: 1 s after a success, doubling after each probe that found
/// nothing, up to `maxInterval`, 3 s (so a link that stays poor is probed rarely, and a capacity that
/// returns is found within `maxInterval` plus a few round trips). Never while the detector sees
/// overuse or loss is high.
public struct ProbeController: Sendable {
    public static let clusterDuration: Duration = .milliseconds(40)
    /// A cluster carries at least this much, so that its second half (what the arrival rate is read
    /// over) comes after a shaper's bucket of up to this size has been emptied.
    public static let minClusterBytes = 24_000
    public static let minPackets = 5
    static let baseInterval: Duration = .seconds(1)
    public static let maxInterval: Duration = .seconds(3)
    /// A cluster with no result this long after it was asked for failed (its packets were lost).
    static let timeout: Duration = .seconds(1)

    private var nextID = 1
    private var started = false
    /// Clusters asked for and not judged yet: (id, bitrate, asked at).
    private var pending: [(id: Int, bitrate: Int, at: Instant)] = []
    /// Rates to probe next, without waiting (start-up, and further after a success).
    private var queued: [Int] = []
    private var interval = ProbeController.baseInterval
    private var lastProbe: Instant?
    public private(set) var clustersSent = 0
    public private(set) var successes = 0

    public init() {}

    /// The next cluster to send, if it is time: `estimate` is the current target, `ceiling` the
    /// most the sender wants; `congested` holds probing back.
    public mutating func nextCluster(estimate: Int, ceiling: Int, congested: Bool, now: Instant) -> ProbeCluster? {
        if pending.contains(where: { now.since($0.at) > Self.timeout }) {
            pending.removeAll { now.since($0.at) > Self.timeout }
            backOff()
        }
        if !started {
            started = true
            queued = [3 * estimate, 6 * estimate]
        }
        guard pending.isEmpty, !congested, estimate < ceiling * 95 / 100 else { return nil }
        let bitrate: Int
        if !queued.isEmpty {
            bitrate = queued.removeFirst()
        } else if lastProbe.map({ now.since($0) >= interval }) ?? true {
            bitrate = 2 * estimate
        } else {
            return nil
        }
        return cluster(bitrate: min(bitrate, ceiling), now: now)
    }

    private mutating func cluster(bitrate: Int, now: Instant) -> ProbeCluster {
        let id = nextID
        nextID += 1
        pending.append((id, bitrate, now))
        lastProbe = now
        clustersSent += 1
        let micros = Self.clusterDuration.components.attoseconds / 1_000_000_000_000 + Self.clusterDuration.components.seconds * 1_000_000
        let bytes = Int(Int64(bitrate) * micros / 8_000_000)
        return ProbeCluster(id: id, bitrate: bitrate, minPackets: Self.minPackets, minBytes: max(bytes, Self.minClusterBytes))
    }

    /// The estimator judged cluster `id`: `result` is the rate the path carried (nil: unusable).
    /// Returns whether it found more than `estimate` (the caller then raises its estimate).
    @discardableResult
    public mutating func probeCompleted(id: Int, result: Int?, estimate: Int, ceiling: Int) -> Bool {
        guard let index = pending.firstIndex(where: { $0.id == id }) else { return false }
        let probed = pending.remove(at: index).bitrate
        guard let result, result > estimate * 11 / 10 else {
            backOff()
            return false
        }
        successes += 1
        interval = Self.baseInterval
        // The path carried most of what was sent: there may be more.
        if result >= probed * 7 / 10, result < ceiling { queued = [2 * result] }
        return true
    }

    private mutating func backOff() {
        queued.removeAll()
        interval = min(interval * 2, Self.maxInterval)
    }
}

/// Measures what a probe cluster got through: its packets' send times and arrival times from
/// the feedback, the rate at which they left and arrived; the lesser, or 95% of the arrival rate
/// when arrivals were clearly slower (the bottleneck spread them).
///
/// The arrival rate is read over the second half of the cluster's bytes only: a token-bucket
/// shaper (DSL, a cellular scheduler, `tc tbf`) lets its bucket's worth through at line rate, and
/// a cluster measured from its first packet would report that burst as capacity. Clusters are
/// large enough (`ProbeController.minClusterBytes`) that a common bucket fits in their first half.
public struct ProbeBitrateEstimator: Sendable {
    struct Cluster {
        var id: Int
        var minPackets: Int
        var minBytes: Int
        var packets = 0
        var bytes = 0
        var firstSend = Int64.max, lastSend = Int64.min, lastSendBytes = 0
        /// Arrival time, send time and size of each packet reported (at most `maxPackets`).
        var arrivals: [(micros: Int64, sent: Int64, bytes: Int)] = []
    }
    static let maxPackets = 256

    /// The clusters being measured; a handful at most (older ones are forgotten).
    private var clusters: [Cluster] = []
    static let maxClusters = 4

    public init() {}

    public mutating func started(_ cluster: ProbeCluster) {
        if clusters.count == Self.maxClusters { clusters.removeFirst() }
        var entry = Cluster(id: cluster.id, minPackets: cluster.minPackets, minBytes: cluster.minBytes)
        entry.arrivals.reserveCapacity(Self.maxPackets)
        clusters.append(entry)
    }

    /// A packet of cluster `id` was reported received. Returns (id, result) once the cluster has
    /// enough reported to judge; result nil when the timing is unusable.
    public mutating func packetReceived(cluster id: Int, sendMicros: Int64, arrivalMicros: Int64, bytes: Int) -> (id: Int, bitrate: Int?)? {
        guard let index = clusters.firstIndex(where: { $0.id == id }) else { return nil }
        var c = clusters[index]
        c.packets += 1
        c.bytes += bytes
        if sendMicros < c.firstSend { c.firstSend = sendMicros }
        if sendMicros >= c.lastSend { c.lastSend = sendMicros; c.lastSendBytes = bytes }
        if c.arrivals.count < Self.maxPackets { c.arrivals.append((arrivalMicros, sendMicros, bytes)) }
        clusters[index] = c
        // 80% of the packets and bytes, as libwebrtc: some of a probe may be lost.
        guard c.packets * 5 >= c.minPackets * 4, c.bytes * 5 >= c.minBytes * 4 else { return nil }
        clusters.remove(at: index)
        let sendSpan = c.lastSend - c.firstSend
        guard sendSpan > 0, sendSpan <= 1_000_000, c.arrivals.count >= 4 else { return (id, nil) }
        let sendRate = Int64(c.bytes - c.lastSendBytes) * 8 * 1_000_000 / sendSpan
        // The second half of the bytes, by arrival: from the packet that completes the first half.
        c.arrivals.sort { $0.micros < $1.micros }
        let total = c.arrivals.reduce(0) { $0 + $1.bytes }
        var cumulative = 0
        var half = 0
        while half < c.arrivals.count - 2, cumulative + c.arrivals[half].bytes <= total / 2 {
            cumulative += c.arrivals[half].bytes
            half += 1
        }
        let tail = c.arrivals[half...]
        let tailBytes = total - cumulative - c.arrivals[half].bytes
        let arrivalSpan = c.arrivals[c.arrivals.count - 1].micros - c.arrivals[half].micros
        let tailSendSpan = (tail.map(\.sent).max() ?? 0) - (tail.map(\.sent).min() ?? 0)
        guard arrivalSpan > 0, arrivalSpan <= 1_000_000 else { return (id, Int(sendRate)) }
        let arrivalRate = Int64(tailBytes) * 8 * 1_000_000 / arrivalSpan
        // Arrivals spread no more than the sends were (a sender that paused between packets, a
        // link that kept up): the path carried what was sent.
        if arrivalSpan * 10 <= tailSendSpan * 11 + 20_000 { return (id, Int(sendRate)) }
        if arrivalRate * 10 < sendRate * 9 { return (id, Int(arrivalRate * 95 / 100)) }
        return (id, Int(min(sendRate, arrivalRate)))
    }
}
