import Histogram
import RelaisWire

/// The relay's own added latency, sampled: one received RTP datagram in `interval` keeps its
/// receive instant until the read batch it arrived in is flushed to the socket, and the difference
/// (which includes the time the datagram waited for the rest of its batch) goes into a histogram.
///
/// Sampling costs one counter test per datagram and one clock read per batch that holds a sample;
/// recording allocates nothing (the histogram's counts are preallocated, the pending instants keep
/// their capacity).
struct RelayLatencySampler {
    /// Power of two: a datagram is sampled when `counter & (interval - 1) == 0`.
    static let interval = 16
    private var counter = 0
    private var pending: [Instant] = []
    /// Nanoseconds, 1 ns to 10 s, two significant digits.
    private(set) var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .two)

    init() {
        pending.reserveCapacity(64)
    }

    /// Called for every received RTP datagram with its receive instant.
    @inline(__always)
    mutating func received(at instant: Instant) {
        counter &+= 1
        if counter & (Self.interval - 1) == 0, pending.count < 64 { pending.append(instant) }
    }

    var hasPending: Bool { !pending.isEmpty }

    /// The batch holding the pending samples left the loop at `flushed`.
    mutating func flushed(at flushed: Instant) {
        for received in pending {
            histogram.record(flushed.nanoseconds &- received.nanoseconds)
        }
        pending.removeAll(keepingCapacity: true)
    }

    mutating func reset() {
        histogram.reset()
    }

    /// Percentiles in microseconds, nil when nothing was recorded.
    func microseconds(atPercentile percentile: Double) -> Double? {
        histogram.totalCount == 0 ? nil : Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    var maxMicroseconds: Double? {
        histogram.totalCount == 0 ? nil : Double(histogram.maxRecorded) / 1000
    }
}

/// One media loop's forwarding figures: traffic counters since start and the sampled added
/// latency (receive instant to the flush of its batch) since start or the last reset.
public struct RelayStatistics: Sendable, Codable, Equatable {
    public var loop: Int
    public var datagramsIn, datagramsOut, forwarded, retransmissions: Int
    public var bytesIn, bytesOut: Int
    public var latencySamples: Int
    public var latencyMicrosecondsP50, latencyMicrosecondsP90, latencyMicrosecondsP99, latencyMicrosecondsMax: Double?

    public init(
        loop: Int, datagramsIn: Int, datagramsOut: Int, forwarded: Int, retransmissions: Int, bytesIn: Int, bytesOut: Int,
        latencySamples: Int, latencyMicrosecondsP50: Double?, latencyMicrosecondsP90: Double?, latencyMicrosecondsP99: Double?,
        latencyMicrosecondsMax: Double?
    ) {
        self.loop = loop
        self.datagramsIn = datagramsIn
        self.datagramsOut = datagramsOut
        self.forwarded = forwarded
        self.retransmissions = retransmissions
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.latencySamples = latencySamples
        self.latencyMicrosecondsP50 = latencyMicrosecondsP50
        self.latencyMicrosecondsP90 = latencyMicrosecondsP90
        self.latencyMicrosecondsP99 = latencyMicrosecondsP99
        self.latencyMicrosecondsMax = latencyMicrosecondsMax
    }
}
