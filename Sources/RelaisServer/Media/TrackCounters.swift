import RelaisWire

/// What the media loop counts of one track (a producer's incoming stream, or a consumer's copy of
/// it towards one subscriber), for the operators' admin API.
///
/// Plain integers and instants, so the forward path pays a few stores per packet (`record`) and
/// nothing else; rates and freezes are worked out on the loop's 50 ms tick (`tick`).
struct TrackCounters {
    /// RTP packets: received from the publisher (producer) or forwarded to the subscriber (consumer),
    /// retransmissions included.
    var packets = 0
    /// RTP bytes (header and payload, before SRTP protection / after SRTP unprotection) of `packets`:
    /// what a receiving endpoint measures as its decrypted RTP bitrate.
    var bytes = 0
    /// Keyframe starts: seen from the publisher (producer) or forwarded (consumer). Video only.
    var keyframes = 0
    /// Video frames: packets with the marker bit (RFC 7741 §4.1: the last packet of a frame).
    var frames = 0
    var frameRate = RateMeter()
    /// NACK packets: sent to the publisher (producer) or received from the subscriber (consumer).
    var nacks = 0
    /// Keyframe requests: PLIs sent to the publisher (producer) or PLI/FIR entries received from
    /// the subscriber (consumer).
    var plis = 0
    /// Stalls: no packet for over `freezeThreshold` while the stream was live. Video only.
    var freezes = 0
    /// When the last packet was received (producer) or forwarded (consumer).
    var lastActivity = Instant.zero
    /// Inside a stall that `freezes` already counted; the next packet ends it.
    var frozen = false
    var rate = RateMeter()

    /// A gap longer than this is a freeze (a 30 fps video sends several packets per 33 ms frame).
    static let freezeThreshold: Duration = .milliseconds(500)

    /// The per-packet part: a handful of integer stores, no branches on state.
    @inline(__always)
    mutating func record(bytes count: Int, now: Instant) {
        packets &+= 1
        bytes &+= count
        lastActivity = now
        frozen = false
    }

    /// The once-a-tick part: the rate meter (which samples once a second) and, if `detectFreezes`,
    /// a new freeze when packets stopped for over `freezeThreshold` after at least one arrived.
    /// Returns true when this call counted a new freeze.
    @discardableResult
    mutating func tick(now: Instant, detectFreezes: Bool) -> Bool {
        rate.sample(total: bytes, now: now)
        frameRate.sample(total: frames, now: now)
        guard detectFreezes, packets > 0, !frozen, now.since(lastActivity) > Self.freezeThreshold else { return false }
        frozen = true
        freezes += 1
        return true
    }
}

/// A rate (bytes, so a bitrate, or frames) over the last interval of about one second, from a
/// running count sampled on the loop's tick (so the interval is 1 s plus up to one tick; the rate divides by the real span).
struct RateMeter {
    /// Byte count at the last sample, and its instant (nil before the first sample).
    private(set) var sampleBytes = 0
    private(set) var sampleAt: Instant?
    /// Units (bytes, frames) per second over the last completed interval.
    private(set) var perSecond: Double = 0
    /// Kilobits per second over the last completed interval, when the units are bytes.
    var kbps: Double { perSecond * 8 / 1000 }

    static let interval: Duration = .seconds(1)

    /// Takes a sample if an interval has passed since the last one; returns true when it did.
    @discardableResult
    mutating func sample(total: Int, now: Instant) -> Bool {
        guard let at = sampleAt else {
            sampleBytes = total
            sampleAt = now
            return false
        }
        let span = now.since(at)
        guard span >= Self.interval else { return false }
        let seconds = Double(span.components.seconds) + Double(span.components.attoseconds) * 1e-18
        perSecond = Double(max(total - sampleBytes, 0)) / seconds
        sampleBytes = total
        sampleAt = now
        return true
    }
}

/// Fraction lost of a producer's stream over the last rate interval, from its `ReceiveStatistics`
/// totals, without touching the report-block state (`makeReportBlock` owns the RR interval).
struct LossInterval {
    private var lostPrior: Int64 = 0
    private var receivedPrior: Int64 = 0
    /// 0...1 over the last interval.
    private(set) var fractionLost: Double = 0

    /// `lost` is cumulative loss, `received` the packets received, both since the statistics began.
    /// A reset of the statistics (new SSRC, sequence restart) shows as received going backwards:
    /// that interval reports no loss and the next starts from the new totals.
    mutating func sample(lost: Int64, received: Int64) {
        defer {
            lostPrior = lost
            receivedPrior = received
        }
        let deltaReceived = received - receivedPrior
        let deltaLost = lost - lostPrior
        guard deltaReceived >= 0 else {
            fractionLost = 0
            return
        }
        let expected = deltaReceived + max(deltaLost, 0)
        fractionLost = expected > 0 && deltaLost > 0 ? Double(deltaLost) / Double(expected) : 0
    }

    mutating func reset() { self = LossInterval() }
}

/// What a subscriber's receiver reports say of one consumer (RFC 3550 §6.4.1), and the sender
/// reports the relay sent that subscriber, to compute the round-trip time from LSR and DLSR.
struct ConsumerFeedback {
    /// Fraction lost of the subscriber's last report, 0...1.
    private(set) var fractionLost: Double = 0
    /// Cumulative packets lost, as the subscriber last reported it.
    private(set) var cumulativeLost = 0
    /// Interarrival jitter of the last report, in milliseconds; nil before the first report.
    private(set) var jitterMs: Double?
    /// The latest round-trip time; nil until a report referred to an SR the relay remembers.
    private(set) var roundTripMs: Double?
    private(set) var reports = 0

    /// The last sender reports sent: compact NTP (middle 32 bits, RFC 3550 §6.4.1 LSR) and when.
    /// Fixed storage, so remembering one allocates nothing.
    private var sent: (SentReport, SentReport, SentReport, SentReport) = (.none, .none, .none, .none)
    private var nextSlot = 0

    struct SentReport {
        var compactNTP: UInt32
        var at: Instant
        static let none = SentReport(compactNTP: 0, at: .zero)
    }

    /// Notes an SR the relay sent this subscriber, with the 64-bit NTP timestamp it carried.
    mutating func senderReportSent(ntp: UInt64, at now: Instant) {
        let entry = SentReport(compactNTP: UInt32(truncatingIfNeeded: ntp >> 16), at: now)
        switch nextSlot {
        case 0: sent.0 = entry
        case 1: sent.1 = entry
        case 2: sent.2 = entry
        default: sent.3 = entry
        }
        nextSlot = (nextSlot + 1) & 3
    }

    /// When the relay sent the SR whose compact NTP is `lsr`, if it is among the last four.
    func sentAt(lsr: UInt32) -> Instant? {
        guard lsr != 0 else { return nil }
        // Newest first, so a repeated NTP (a publisher's SR translated twice) matches the latest.
        for step in 1...4 {
            let entry: SentReport
            switch (nextSlot - step) & 3 {
            case 0: entry = sent.0
            case 1: entry = sent.1
            case 2: entry = sent.2
            default: entry = sent.3
            }
            if entry.at != .zero, entry.compactNTP == lsr { return entry.at }
        }
        return nil
    }

    /// Takes in one report block the subscriber sent about this consumer's output SSRC.
    ///
    /// Jitter is converted from RTP timestamp units with `clockRate`. RTT = A − LSR − DLSR
    /// (§6.4.1), with A − LSR measured on the relay's own clock as the time since it sent the SR
    /// the block names (the SR carried the publisher's NTP time, not the relay's), and DLSR in
    /// units of 1/65536 s. A negative result (the subscriber's delay rounding) counts as zero.
    mutating func record(_ block: ReportBlock, clockRate: UInt32, now: Instant) {
        reports += 1
        fractionLost = Double(block.fractionLost) / 256
        cumulativeLost = Int(block.cumulativeLost)
        if clockRate > 0 { jitterMs = Double(block.jitter) * 1000 / Double(clockRate) }
        if let sentAt = sentAt(lsr: block.lastSenderReport) {
            let elapsed = now.nanoseconds >= sentAt.nanoseconds ? now.nanoseconds - sentAt.nanoseconds : 0
            // 1/65536 s = 1e9 / 65536 ns = 1953125 / 128 ns; the product fits 64 bits.
            let delay = UInt64(block.delaySinceLastSenderReport) * 1_953_125 / 128
            roundTripMs = elapsed > delay ? Double(elapsed - delay) / 1e6 : 0
        }
    }
}
