public import RelaisReceive
public import RelaisWire

/// What one received track looked like, for the client's JSON output.
public struct StreamStatisticsSnapshot: Sendable, Codable, Equatable {
    public var ssrc: UInt32
    public var clockRate: UInt32

    // Packets (RFC 3550 §6.4.1, §A.3).
    public var packetsReceived: Int64
    /// Highest extended sequence number minus the first, plus one; after a sender restart, the
    /// received and lost packets of every run of its sequence numbers (received plus lost).
    public var packetsExpected: Int64
    /// Expected minus received (duplicates are not counted as received, so this is never
    /// understated by a retransmission that crossed its original).
    public var packetsLost: Int64
    /// Packets not counted as received: duplicates, too far behind to tell, or an unconfirmed
    /// sequence jump (RFC 3550 §A.1 probation).
    public var packetsDuplicate: Int64
    public var extendedHighestSequenceNumber: UInt32
    /// packetsLost / packetsExpected since the start.
    public var lossFraction: Double
    /// Interarrival jitter (§A.8) in RTP timestamp units, and in milliseconds.
    public var jitterRTPUnits: Double
    public var jitterMilliseconds: Double

    // Throughput over the last `window`.
    public var bytesReceived: Int64
    public var bitrateBitsPerSecond: Double

    // Frames.
    public var framesDecoded: Int
    public var framesPerSecond: Double
    /// Inter-frame gaps longer than three frame intervals, and their summed length.
    public var freezeCount: Int
    public var totalFreezeDurationMilliseconds: Double
    /// The longest inter-frame gap seen, freeze or not (0 before the second frame).
    public var longestFrameGapMilliseconds: Double
    /// From the statistics' start instant to the first decoded frame.
    public var timeToFirstFrameMilliseconds: Double?

    // End-to-end latency (capture to decode), nearest-rank percentiles.
    public var latencySampleCount: Int
    public var latencyP50Milliseconds: Double?
    public var latencyP99Milliseconds: Double?
}

/// Receive-side measurements of one track: loss, jitter, bitrate, frame rate, freezes, latency,
/// time to first frame. Sans-IO: the caller reports packets, decoded frames and latency samples
/// with instants it read from its clock, and asks for a `snapshot(now:)`.
///
/// Sequence, loss, jitter and the RR report block are RelaisReceive's `ReceiveStatistics`, the
/// relay's own (RFC 3550 §A.1 validation with probation, §A.3 loss, §A.8 jitter, LSR/DLSR): a
/// sender restart is re-based on, not read as thousands of lost packets. What is the client's is
/// here: bytes and bitrate, frames, freezes, latency.
///
/// Freezes: an inter-frame gap longer than three frame intervals, where the interval is
/// `expectedFrameInterval` if configured, otherwise the mean of the last 30 non-freeze intervals
/// (after at least 3); each freeze adds its whole gap to the total.
public struct StreamStatistics: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Window for frames per second and bitrate.
        public var window: Duration = .seconds(1)
        /// Nominal frame interval for freeze detection; nil to measure it.
        public var expectedFrameInterval: Duration?
        /// Latency samples kept (the newest).
        public var latencySampleLimit: Int = 10_000

        public init() {}
    }

    public let ssrc: SSRC
    public let clockRate: UInt32
    public let start: Instant
    public let configuration: Configuration

    /// Sequence validation, loss, jitter, LSR/DLSR: the relay's receive statistics.
    public private(set) var reception: ReceiveStatistics
    /// Packets counted as received since the start. `reception` counts from its last
    /// resynchronisation on a sender restart; this total carries on across them.
    public private(set) var packetsReceived: Int64 = 0
    /// Packets `reception` did not count as received (see the snapshot's `packetsDuplicate`).
    public private(set) var packetsDuplicate: Int64 = 0
    public private(set) var bytesReceived: Int64 = 0

    // Windows.
    private var packetWindow = TimeWindow()
    private var frameWindow = TimeWindow()

    // Frames.
    public private(set) var framesDecoded = 0
    private var lastFrame: Instant?
    private var firstFrame: Instant?
    private var intervals: [UInt64] = []
    private var intervalCursor = 0
    public private(set) var freezeCount = 0
    public private(set) var totalFreezeDuration: Duration = .zero
    public private(set) var longestFrameGap: Duration = .zero

    // Latency, microseconds.
    private var latencies: [Int64] = []
    private var latencyCursor = 0

    public init(ssrc: SSRC, clockRate: UInt32, start: Instant, configuration: Configuration = Configuration()) {
        self.ssrc = ssrc
        self.clockRate = clockRate
        self.start = start
        self.configuration = configuration
        self.reception = ReceiveStatistics(ssrc: ssrc, clockRate: clockRate)
    }

    /// Received plus lost: RFC 3550 §A.3's expected count, summed over sender restarts.
    public var packetsExpected: Int64 { packetsReceived + packetsLost }
    /// Cumulative loss (§A.3), the loss before any sender restart included.
    public var packetsLost: Int64 { reception.cumulativeLost }
    public var extendedHighestSequenceNumber: UInt32 { reception.extendedHighestSequence }
    /// The running interarrival jitter estimate J (RFC 3550 §6.4.1), in RTP timestamp units.
    public var jitter: Double { reception.jitterEstimate }

    // MARK: - Input

    /// One received RTP packet; `bytes` counts toward the bitrate (pass the datagram size, or the
    /// payload size, consistently).
    public mutating func recordPacket(sequence: SequenceNumber, rtpTimestamp: UInt32, bytes: Int, arrival: Instant) {
        bytesReceived += Int64(bytes)
        packetWindow.append(arrival, Int64(bytes))
        switch reception.record(sequence: sequence, rtpTimestamp: rtpTimestamp, arrival: arrival) {
        case .duplicate, .tooOld, .probation: packetsDuplicate += 1
        case .inOrder, .late, .restarted: packetsReceived += 1
        }
    }

    /// One decoded (or rendered) frame at `time`.
    public mutating func recordFrame(at time: Instant) {
        framesDecoded += 1
        frameWindow.append(time, 1)
        if firstFrame == nil { firstFrame = time }
        defer { lastFrame = time }
        guard let last = lastFrame else { return }
        let interval = time.since(last).nanosecondsClamped
        longestFrameGap = max(longestFrameGap, .nanoseconds(Int64(clamping: interval)))
        let reference: UInt64?
        if let expected = configuration.expectedFrameInterval {
            reference = expected.nanosecondsClamped
        } else if intervals.count >= 3 {
            reference = intervals.reduce(0, +) / UInt64(intervals.count)
        } else {
            reference = nil
        }
        if let reference, interval > 3 * reference {
            freezeCount += 1
            totalFreezeDuration += .nanoseconds(Int64(interval))
            return
        }
        if intervals.count < 30 {
            intervals.append(interval)
        } else {
            intervals[intervalCursor] = interval
            intervalCursor = (intervalCursor + 1) % 30
        }
    }

    /// One end-to-end latency sample: the sender's capture time and our decode time, in
    /// microseconds on a shared clock (the caller aligns them, e.g. via timestamps in the media).
    public mutating func recordLatency(captureMicroseconds: Int64, decodeMicroseconds: Int64) {
        let sample = decodeMicroseconds - captureMicroseconds
        if latencies.count < configuration.latencySampleLimit {
            latencies.append(sample)
        } else if !latencies.isEmpty {
            latencies[latencyCursor] = sample
            latencyCursor = (latencyCursor + 1) % latencies.count
        }
    }

    /// A sender report from this source arrived (for LSR/DLSR in our receiver reports).
    public mutating func recordSenderReport(ntpTimestamp: UInt64, arrival: Instant) {
        reception.recordSenderReport(ntp: ntpTimestamp, arrival: arrival)
    }

    /// The report block (RFC 3550 §6.4.1) for this stream in our next RR, and the start of the next
    /// fraction-lost interval (see `ReceiveStatistics.makeReportBlock(now:)`).
    public mutating func makeReportBlock(now: Instant) -> ReportBlock {
        reception.makeReportBlock(now: now)
    }

    // MARK: - Output

    public var jitterMilliseconds: Double { jitter * 1000 / Double(clockRate) }

    /// Nearest-rank percentile (0...1) of the latency samples, in microseconds.
    public func latencyPercentile(_ p: Double) -> Int64? {
        guard !latencies.isEmpty else { return nil }
        let sorted = latencies.sorted()
        return Self.nearestRank(sorted, p)
    }

    public func snapshot(now: Instant) -> StreamStatisticsSnapshot {
        let windowNs = configuration.window.nanosecondsClamped
        let windowStart = Instant(nanoseconds: now.nanoseconds > windowNs ? now.nanoseconds - windowNs : 0)
        // Before a full window has passed, rate over the time elapsed since the start.
        let spanNs = Double(min(windowNs, max(1, now.since(start).nanosecondsClamped)))
        let frames = frameWindow.sum(after: windowStart)
        let bytes = packetWindow.sum(after: windowStart)
        let sorted = latencies.sorted()
        let expected = packetsExpected
        return StreamStatisticsSnapshot(
            ssrc: ssrc.rawValue, clockRate: clockRate,
            packetsReceived: packetsReceived, packetsExpected: expected, packetsLost: packetsLost,
            packetsDuplicate: packetsDuplicate, extendedHighestSequenceNumber: extendedHighestSequenceNumber,
            lossFraction: expected > 0 ? Double(max(0, packetsLost)) / Double(expected) : 0,
            jitterRTPUnits: jitter, jitterMilliseconds: jitterMilliseconds,
            bytesReceived: bytesReceived, bitrateBitsPerSecond: Double(bytes * 8) * 1e9 / spanNs,
            framesDecoded: framesDecoded, framesPerSecond: Double(frames) * 1e9 / spanNs,
            freezeCount: freezeCount, totalFreezeDurationMilliseconds: Self.milliseconds(totalFreezeDuration),
            longestFrameGapMilliseconds: Self.milliseconds(longestFrameGap),
            timeToFirstFrameMilliseconds: firstFrame.map { Self.milliseconds($0.since(start)) },
            latencySampleCount: latencies.count,
            latencyP50Milliseconds: Self.nearestRank(sorted, 0.5).map { Double($0) / 1000 },
            latencyP99Milliseconds: Self.nearestRank(sorted, 0.99).map { Double($0) / 1000 })
    }

    // MARK: - Internals

    static func nearestRank(_ sorted: [Int64], _ p: Double) -> Int64? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.nanosecondsClamped) / 1e6
    }
}

/// (instant, value) pairs in arrival order, trimmed lazily to what a window needs.
struct TimeWindow: Sendable {
    private var times: [UInt64] = []
    private var values: [Int64] = []
    private var head = 0
    /// Entries older than this are never needed again (10 s of history at most).
    private static let keep: UInt64 = 10_000_000_000

    mutating func append(_ time: Instant, _ value: Int64) {
        times.append(time.nanoseconds)
        values.append(value)
        // Trim what is older than `keep` behind the newest, compacting when half is dead.
        while head < times.count, times[head] &+ Self.keep < time.nanoseconds { head += 1 }
        if head > 1024 && head * 2 > times.count {
            times.removeFirst(head)
            values.removeFirst(head)
            head = 0
        }
    }

    /// Sum of values with instants after `start`.
    func sum(after start: Instant) -> Int64 {
        var total: Int64 = 0
        var i = times.count - 1
        while i >= head, times[i] > start.nanoseconds {
            total += values[i]
            i -= 1
        }
        return total
    }
}
