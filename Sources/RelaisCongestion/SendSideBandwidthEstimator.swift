public import RelaisWire

/// The sender's side of transport-wide congestion control: a history of sent packets, the
/// receiver's feedback in, a target bitrate out (`RelaisCongestion`).
public struct SendSideBandwidthEstimator: Sendable {
    public struct Configuration: Sendable {
        public var startBitrate: Int
        public var minBitrate: Int
        public var maxBitrate: Int

        public init(startBitrate: Int = 1_000_000, minBitrate: Int = 100_000, maxBitrate: Int = 5_000_000) {
            self.startBitrate = startBitrate
            self.minBitrate = minBitrate
            self.maxBitrate = maxBitrate
        }
    }

    public let configuration: Configuration
    private var detector = DelayBasedDetector()
    private var rate: AIMDRateControl
    private var acknowledged = AcknowledgedBitrate()
    private var probes = ProbeController()
    private var probeMeasurement = ProbeBitrateEstimator()
    /// The loss-based bound (draft-ietf-rmcat-gcc-02 §6): lowered when over 10% is lost, released
    /// when under 2% is.
    private var lossBound: Int
    private var lastLossDecrease: Instant?
    /// Loss over the last feedback packets: reported lost and received since the last evaluation.
    private var lostSinceEvaluation = 0
    private var receivedSinceEvaluation = 0
    private var lastLossEvaluation: Instant?
    public private(set) var lossFraction = 0.0

    /// Sent packets by transport-wide sequence number modulo the ring's size.
    private var sent: [SentPacket]
    private var sentUnwrapper = SequenceNumberUnwrapper()
    private var feedbackUnwrapper = SequenceNumberUnwrapper()
    static let historySize = 4096

    struct SentPacket {
        var sequence: Int64 = -1
        var sendMicros: Int64 = 0
        var bytes = 0
        var reported = false
        /// The probe cluster the packet belongs to, 0 for none.
        var cluster = 0
    }

    /// Feedback packets taken in, packets they reported, and reports about packets not in the history.
    public private(set) var feedbackPackets = 0
    public private(set) var packetsReported = 0
    public private(set) var unknownReports = 0
    public var roundTrip: Duration = .milliseconds(100)

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.rate = AIMDRateControl(start: configuration.startBitrate, min: configuration.minBitrate, max: configuration.maxBitrate)
        self.lossBound = configuration.maxBitrate
        self.sent = Array(repeating: SentPacket(), count: Self.historySize)
    }

    /// The bitrate to send at (bits per second): the delay-based rate within the loss-based bound.
    public var targetBitrate: Int { max(min(rate.target, lossBound), configuration.minBitrate) }
    public var usage: DelayBasedDetector.Usage { detector.usage }
    public var acknowledgedBitrate: Int? { acknowledged.bitsPerSecond }
    /// Probe clusters asked for, and those that found more than the estimate.
    public var probeClusters: Int { probes.clustersSent }
    public var successfulProbes: Int { probes.successes }
    /// The last probe cluster judged: what it measured (nil: unusable timing) and the estimate then.
    public private(set) var lastProbe: (result: Int?, estimate: Int)?

    /// A packet left with transport-wide sequence number `sequence`, `bytes` long on the wire;
    /// `probeCluster` is the id of the probe cluster it was sent for, if any.
    public mutating func packetSent(sequence: SequenceNumber, bytes: Int, at now: Instant, probeCluster: Int? = nil) {
        let extended = sentUnwrapper.unwrap(sequence)
        sent[Int(extended % Int64(Self.historySize))] = SentPacket(
            sequence: extended, sendMicros: Int64(now.nanoseconds / 1000), bytes: bytes, reported: false, cluster: probeCluster ?? 0)
    }

    /// A probe cluster to send now (padding at its bitrate, marked with its id in `packetSent`),
    /// when the estimate is under the ceiling and it is time to look for more (`ProbeController`).
    public mutating func probeToSend(now: Instant) -> ProbeCluster? {
        let congested = detector.usage == .overusing || lossFraction > 0.1
        guard let cluster = probes.nextCluster(estimate: targetBitrate, ceiling: configuration.maxBitrate, congested: congested, now: now) else {
            return nil
        }
        probeMeasurement.started(cluster)
        return cluster
    }

    /// Transport-wide feedback from the receiver (RTPFB FMT 15) arrived at `now`: the detector
    /// sees each newly reported packet in sequence order, the rate control the result.
    public mutating func receivedFeedback(_ feedback: TransportFeedbackView, at now: Instant) {
        feedbackPackets += 1
        var sawGroup = false
        for report in feedback.packets {
            let extended = feedbackUnwrapper.unwrap(report.sequenceNumber)
            var entry = sent[Int(extended % Int64(Self.historySize))]
            guard entry.sequence == extended else {
                unknownReports += 1
                continue
            }
            packetsReported += 1
            guard let arrival = report.arrivalTime else {
                if !entry.reported { lostSinceEvaluation += 1 }
                continue
            }
            let first = !entry.reported
            entry.reported = true
            sent[Int(extended % Int64(Self.historySize))] = entry
            if first {
                receivedSinceEvaluation += 1
            } else {
                // Reported lost before, received now (a late packet): not lost after all.
                lostSinceEvaluation = max(lostSinceEvaluation - 1, 0)
                receivedSinceEvaluation += 1
            }
            acknowledged.add(arrivalMicros: arrival, bytes: entry.bytes)
            if first, entry.cluster != 0,
               let (id, result) = probeMeasurement.packetReceived(cluster: entry.cluster, sendMicros: entry.sendMicros, arrivalMicros: arrival, bytes: entry.bytes) {
                let estimate = targetBitrate
                lastProbe = (result, estimate)
                if probes.probeCompleted(id: id, result: result, estimate: estimate, ceiling: configuration.maxBitrate), let result {
                    // The path carried more than the estimate: start from what it carried.
                    rate.raise(to: result, now: now)
                }
            }
            if detector.packet(sendMicros: entry.sendMicros, arrivalMicros: arrival) { sawGroup = true }
        }
        if sawGroup || detector.usage == .overusing {
            rate.update(detector.usage, acknowledged: acknowledged.bitsPerSecond, roundTrip: roundTrip, now: now)
        }
        evaluateLoss(now: now)
    }

    /// Loss over about a second of feedback: above 10% lowers the bound by half the loss (once per
    /// 300 ms plus a round trip); under 2% releases it.
    private mutating func evaluateLoss(now: Instant) {
        guard let last = lastLossEvaluation else {
            lastLossEvaluation = now
            return
        }
        let total = lostSinceEvaluation + receivedSinceEvaluation
        guard now.since(last) >= .milliseconds(1000) || total >= 200, total > 0 else { return }
        lossFraction = Double(lostSinceEvaluation) / Double(total)
        lostSinceEvaluation = 0
        receivedSinceEvaluation = 0
        lastLossEvaluation = now
        if lossFraction > 0.1 {
            if let decreased = lastLossDecrease, now.since(decreased) < .milliseconds(300) + roundTrip { return }
            lastLossDecrease = now
            lossBound = max(Int(Double(min(lossBound, rate.target)) * (1 - 0.5 * lossFraction)), configuration.minBitrate)
        } else if lossFraction < 0.02 {
            lossBound = configuration.maxBitrate
        }
    }
}
