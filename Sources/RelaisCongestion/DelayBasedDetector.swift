/// The delay-based half of GCC (draft-ietf-rmcat-gcc-02 §5.2-5.4, libwebrtc's InterArrival,
/// TrendlineEstimator): is the bottleneck queue growing (overusing), stable, or draining?
public struct DelayBasedDetector: Sendable {
    public enum Usage: Sendable, Equatable {
        case normal, overusing, underusing
    }

    /// Packets sent within this span of the first of a group form one group (a video frame's burst).
    static let groupSpanMicros: Int64 = 5_000
    /// Groups in the trendline's regression window, and the smoothing of the accumulated delay.
    static let windowSize = 20
    static let smoothing = 0.9
    static let thresholdGain = 4.0
    /// The adaptive threshold (ms): its start, bounds, and how fast it follows the trend up and down.
    static let initialThreshold = 12.5
    static let minThreshold = 6.0
    static let maxThreshold = 600.0
    static let thresholdUp = 0.0087
    static let thresholdDown = 0.039
    /// An overuse must last this long (ms) over two groups before it counts.
    static let overuseTimeMs = 10.0
    /// A gap between groups beyond this (µs) is not queueing but a pause (or a clock jump): start over.
    static let resetGapMicros: Int64 = 3_000_000

    public private(set) var usage = Usage.normal
    /// The trend of the queueing delay scaled as GCC compares it (ms), and the threshold it met.
    public private(set) var modifiedTrend = 0.0
    public private(set) var threshold = DelayBasedDetector.initialThreshold

    // The group being filled and the last complete one: first and last send time, last arrival.
    private var current: Group?
    private var previous: Group?
    // Trendline state.
    private var firstArrivalMs: Double?
    private var accumulatedDelay = 0.0
    private var smoothedDelay = 0.0
    private var samples: [(x: Double, y: Double)] = []
    private var sampleStart = 0
    private var deltaCount = 0
    private var previousTrend = 0.0
    // Overuse detector state.
    private var timeOverusing = -1.0
    private var overuseCount = 0
    private var lastThresholdUpdateMs: Double?

    struct Group {
        var firstSend: Int64
        var lastSend: Int64
        var lastArrival: Int64
    }

    public init() {
        samples.reserveCapacity(Self.windowSize)
    }

    /// One packet the feedback reported received: its send time on the sender's clock and its
    /// arrival on the receiver's, both in microseconds, in send order. Returns true when the usage
    /// was re-evaluated (a group completed).
    @discardableResult
    public mutating func packet(sendMicros: Int64, arrivalMicros: Int64) -> Bool {
        guard var group = current else {
            current = Group(firstSend: sendMicros, lastSend: sendMicros, lastArrival: arrivalMicros)
            return false
        }
        if sendMicros < group.firstSend { return false }  // reordered from before the group
        if sendMicros - group.firstSend <= Self.groupSpanMicros {
            group.lastSend = max(group.lastSend, sendMicros)
            group.lastArrival = max(group.lastArrival, arrivalMicros)
            current = group
            return false
        }
        // The group is complete: compare it with the one before.
        defer {
            previous = group
            current = Group(firstSend: sendMicros, lastSend: sendMicros, lastArrival: arrivalMicros)
        }
        guard let before = previous else { return false }
        let sendDelta = group.lastSend - before.lastSend
        let arrivalDelta = group.lastArrival - before.lastArrival
        guard abs(arrivalDelta) < Self.resetGapMicros, sendDelta < Self.resetGapMicros else {
            resetTrend()
            return false
        }
        update(sendDeltaMs: Double(sendDelta) / 1000, arrivalDeltaMs: Double(arrivalDelta) / 1000, arrivalMs: Double(group.lastArrival) / 1000)
        return true
    }

    private mutating func resetTrend() {
        firstArrivalMs = nil
        accumulatedDelay = 0
        smoothedDelay = 0
        samples.removeAll(keepingCapacity: true)
        sampleStart = 0
        deltaCount = 0
        usage = .normal
        timeOverusing = -1
        overuseCount = 0
    }

    private mutating func update(sendDeltaMs: Double, arrivalDeltaMs: Double, arrivalMs: Double) {
        deltaCount = min(deltaCount + 1, 1000)
        accumulatedDelay += arrivalDeltaMs - sendDeltaMs
        smoothedDelay = Self.smoothing * smoothedDelay + (1 - Self.smoothing) * accumulatedDelay
        let start = firstArrivalMs ?? arrivalMs
        firstArrivalMs = start
        let sample = (x: arrivalMs - start, y: smoothedDelay)
        if samples.count < Self.windowSize {
            samples.append(sample)
        } else {
            samples[sampleStart] = sample
            sampleStart = (sampleStart + 1) % Self.windowSize
        }
        var trend = previousTrend
        if samples.count == Self.windowSize, let slope = Self.slope(samples) { trend = slope }
        modifiedTrend = Double(min(deltaCount, 60)) * trend * Self.thresholdGain
        detect(trend: trend, sendDeltaMs: sendDeltaMs, nowMs: arrivalMs)
        previousTrend = trend
    }

    /// Least-squares slope of y over x; nil when all x are equal.
    static func slope(_ points: [(x: Double, y: Double)]) -> Double? {
        let n = Double(points.count)
        var sumX = 0.0, sumY = 0.0
        for p in points {
            sumX += p.x
            sumY += p.y
        }
        let meanX = sumX / n, meanY = sumY / n
        var numerator = 0.0, denominator = 0.0
        for p in points {
            numerator += (p.x - meanX) * (p.y - meanY)
            denominator += (p.x - meanX) * (p.x - meanX)
        }
        return denominator == 0 ? nil : numerator / denominator
    }

    private mutating func detect(trend: Double, sendDeltaMs: Double, nowMs: Double) {
        if modifiedTrend > threshold {
            timeOverusing = timeOverusing < 0 ? sendDeltaMs / 2 : timeOverusing + sendDeltaMs
            overuseCount += 1
            if timeOverusing > Self.overuseTimeMs, overuseCount > 1, trend >= previousTrend {
                timeOverusing = 0
                overuseCount = 0
                usage = .overusing
            }
        } else if modifiedTrend < -threshold {
            timeOverusing = -1
            overuseCount = 0
            usage = .underusing
        } else {
            timeOverusing = -1
            overuseCount = 0
            usage = .normal
        }
        updateThreshold(nowMs: nowMs)
    }

    /// The threshold follows the trend, slowly up and faster down, so that a competing flow's queue
    /// does not starve this one and a real overuse still stands out (gcc-02 §5.4).
    private mutating func updateThreshold(nowMs: Double) {
        let last = lastThresholdUpdateMs ?? nowMs
        lastThresholdUpdateMs = nowMs
        let magnitude = abs(modifiedTrend)
        guard magnitude <= threshold + 15 else { return }  // a spike: leave the threshold alone
        let gain = magnitude < threshold ? Self.thresholdDown : Self.thresholdUp
        let elapsed = min(max(nowMs - last, 0), 100)
        threshold = min(max(threshold + gain * (magnitude - threshold) * elapsed, Self.minThreshold), Self.maxThreshold)
    }
}
