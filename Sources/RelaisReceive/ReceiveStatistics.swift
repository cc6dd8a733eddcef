public import RelaisWire

/// What `ReceiveStatistics.record` made of one packet.
public enum ReceiveOutcome: Equatable, Sendable {
    /// The first packet, or one after the highest so far (`gap` packets were skipped on the way).
    case inOrder(gap: Int)
    /// Older than the highest so far and not seen before: reordered or retransmitted.
    case late
    /// Already counted.
    case duplicate
    /// Further behind than the duplicate window reaches; ignored so it cannot count twice.
    case tooOld
    /// A jump beyond `maxDropout` (or far backwards) that is not yet confirmed by a following
    /// packet (RFC 3550 §A.1 `bad_seq`); ignored.
    case probation
    /// The packet confirmed a jump: the sender restarted its sequence, statistics re-based on it.
    case restarted
}

/// Reception statistics of one incoming media SSRC, as RFC 3550 §6.4.1 report blocks need them.
///
/// Follows the algorithms of §A.1 (sequence validation with `MAX_DROPOUT` and resynchronisation on
/// a confirmed jump), §A.3 (expected, lost and fraction lost) and §A.8 (interarrival jitter), with
/// one deliberate difference: duplicates are recognised over a 1024-packet window and not counted,
/// so a sender that retransmits a packet we already had (RTX answering a NACK that crossed the
/// original) does not turn cumulative loss negative. Packets further back than the window are
/// ignored for the same reason.
///
/// A value type driven by `record`; nothing here allocates after `init`.
public struct ReceiveStatistics: Sendable {
    /// The source these statistics describe (SSRC_n of the report block).
    public let ssrc: SSRC
    /// RTP timestamp rate of the stream's payload format, needed for jitter (§6.4.1).
    public let clockRate: UInt32

    /// A forward jump larger than this needs a second, consecutive packet before it is believed
    /// (RFC 3550 §A.1 `MAX_DROPOUT`).
    public static let maxDropout = 3000
    /// How far back duplicates are recognised; older packets are `tooOld`. Also the largest
    /// backward step treated as reordering rather than a possible restart.
    public static let duplicateWindow = 1024

    // Sequence state (§A.1), in extended (64-bit) sequence numbers.
    private var started = false
    private var baseExtended: Int64 = 0
    private var maxExtended: Int64 = 0
    private var badSequence: SequenceNumber?
    /// Bit i of word (ext / 64) % 16 says extended sequence `ext` has been received.
    private var seen: [UInt64]

    // Counts (§A.3).
    public private(set) var packetsReceived: Int64 = 0
    /// Loss accumulated before the last resynchronisation, so a sender restart never reads as recovery.
    private var lostBeforeRestart: Int64 = 0
    private var expectedPrior: Int64 = 0
    private var receivedPrior: Int64 = 0
    /// Packets recognised as duplicates, and packets too old to tell; neither enters the counts.
    public private(set) var duplicates: Int64 = 0
    public private(set) var tooOld: Int64 = 0
    /// Confirmed sequence restarts (§A.1 resynchronisation).
    public private(set) var restarts: Int = 0

    // Jitter (§6.4.1, §A.8).
    private var lastTransit: UInt32?
    /// The running estimate J of §6.4.1, in RTP timestamp units.
    public private(set) var jitterEstimate: Double = 0

    // Last SR (§6.4.1 LSR, DLSR).
    private var lastSenderReportMiddle: UInt32 = 0
    private var lastSenderReportArrival: Instant?

    public init(ssrc: SSRC, clockRate: UInt32) {
        self.ssrc = ssrc
        self.clockRate = clockRate
        self.seen = [UInt64](repeating: 0, count: Self.duplicateWindow / 64)
    }

    /// Highest sequence number received, extended with the cycle count (§6.4.1): what the report
    /// block carries, truncated to 32 bits.
    public var extendedHighestSequence: UInt32 { UInt32(truncatingIfNeeded: maxExtended) }

    /// Packets expected since the first one (§A.3): highest minus base plus one.
    public var packetsExpected: Int64 { started ? maxExtended - baseExtended + 1 : 0 }

    /// Packets lost since the start, unclamped (§A.3); see `ReportBlock.cumulativeLostRange`.
    public var cumulativeLost: Int64 { lostBeforeRestart + packetsExpected - packetsReceived }

    /// Interarrival jitter as the report block carries it (§6.4.1), in RTP timestamp units.
    public var jitter: UInt32 { UInt32(jitterEstimate) }

    /// Accounts for one received packet. `rtpTimestamp` and `arrival` feed the jitter estimate;
    /// only packets that advance the sequence do, because a retransmission's arrival time says
    /// nothing about the network's jitter (libwebrtc's receive statistics do the same).
    @discardableResult
    public mutating func record(sequence: SequenceNumber, rtpTimestamp: UInt32, arrival: Instant) -> ReceiveOutcome {
        guard started else {
            rebase(on: sequence)
            updateJitter(rtpTimestamp: rtpTimestamp, arrival: arrival)
            return .inOrder(gap: 0)
        }
        let highest = SequenceNumber(UInt16(truncatingIfNeeded: maxExtended))
        let delta = Int(sequence.distance(from: highest))
        if delta > 0 && delta <= Self.maxDropout {
            badSequence = nil
            advance(to: maxExtended + Int64(delta))
            markSeen(maxExtended)
            packetsReceived += 1
            updateJitter(rtpTimestamp: rtpTimestamp, arrival: arrival)
            return .inOrder(gap: delta - 1)
        }
        if delta <= 0 && -delta < Self.duplicateWindow {
            let extended = maxExtended + Int64(delta)
            if extended < baseExtended {
                // Before the first packet we saw: it was never expected, so it cannot be counted.
                tooOld += 1
                return .tooOld
            }
            if isSeen(extended) {
                duplicates += 1
                return .duplicate
            }
            markSeen(extended)
            packetsReceived += 1
            return .late
        }
        // A large jump either way (§A.1): believe it only if the next packet follows it.
        if let bad = badSequence, bad == sequence {
            lostBeforeRestart = cumulativeLost
            restarts += 1
            rebase(on: sequence)
            lastTransit = nil
            updateJitter(rtpTimestamp: rtpTimestamp, arrival: arrival)
            return .restarted
        }
        badSequence = sequence.advanced(by: 1)
        if delta < 0 {
            tooOld += 1
            return .tooOld
        }
        return .probation
    }

    /// Notes a sender report from this source (RFC 3550 §6.4.1): LSR is the middle 32 bits of its
    /// 64-bit NTP timestamp, and DLSR counts from its arrival.
    public mutating func recordSenderReport(ntp: UInt64, arrival: Instant) {
        lastSenderReportMiddle = UInt32(truncatingIfNeeded: ntp >> 16)
        lastSenderReportArrival = arrival
    }

    /// The report block for the next RR or SR, and the start of the next fraction-lost interval.
    ///
    /// Fraction lost covers the packets expected since the previous call (§A.3); it is zero when
    /// duplicates or late arrivals make the interval's loss negative. Cumulative loss is clamped to
    /// the signed 24-bit field. DLSR is in units of 1/65536 s (§6.4.1).
    public mutating func makeReportBlock(now: Instant) -> ReportBlock {
        let expected = packetsExpected
        let expectedInterval = expected - expectedPrior
        let receivedInterval = packetsReceived - receivedPrior
        expectedPrior = expected
        receivedPrior = packetsReceived
        let lostInterval = expectedInterval - receivedInterval
        let fraction: UInt8 =
            (expectedInterval <= 0 || lostInterval <= 0)
            ? 0 : UInt8(clamping: (lostInterval << 8) / expectedInterval)

        let range = ReportBlock.cumulativeLostRange
        let lost = Int32(clamping: min(max(cumulativeLost, Int64(range.lowerBound)), Int64(range.upperBound)))

        var dlsr: UInt32 = 0
        if let arrival = lastSenderReportArrival {
            let elapsed = now.nanoseconds(since: arrival)
            // 1/65536 s units; saturates after 18 hours, which the 32-bit field cannot carry anyway.
            dlsr = UInt32(clamping: (elapsed / 1_000) &* 65_536 / 1_000_000)
        }
        return ReportBlock(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: lost,
            extendedHighestSequenceNumber: extendedHighestSequence, jitter: jitter,
            lastSenderReport: lastSenderReportArrival == nil ? 0 : lastSenderReportMiddle,
            delaySinceLastSenderReport: dlsr
        )
    }

    // MARK: - Internals

    /// §A.1 `init_seq`: counts restart at this packet (the cycle count carries on, so the extended
    /// highest sequence number keeps increasing across a restart as receivers expect).
    private mutating func rebase(on sequence: SequenceNumber) {
        let cycles = started ? (maxExtended >> 16) + 1 : 0
        let extended = cycles << 16 | Int64(sequence.rawValue)
        started = true
        baseExtended = extended
        maxExtended = extended
        badSequence = nil
        packetsReceived = 1
        expectedPrior = 0
        receivedPrior = 0
        for i in seen.indices { seen[i] = 0 }
        markSeen(extended)
    }

    /// Moves the highest sequence forward, forgetting the duplicate bits of the slots it reuses.
    private mutating func advance(to extended: Int64) {
        let steps = extended - maxExtended
        if steps >= Int64(Self.duplicateWindow) {
            for i in seen.indices { seen[i] = 0 }
        } else {
            var e = maxExtended + 1
            while e <= extended {
                clearSeen(e)
                e += 1
            }
        }
        maxExtended = extended
    }

    private func bitPosition(_ extended: Int64) -> (word: Int, mask: UInt64) {
        let slot = Int(extended & Int64(Self.duplicateWindow - 1))
        return (slot >> 6, 1 << UInt64(slot & 63))
    }

    private func isSeen(_ extended: Int64) -> Bool {
        let (word, mask) = bitPosition(extended)
        return seen[word] & mask != 0
    }

    private mutating func markSeen(_ extended: Int64) {
        let (word, mask) = bitPosition(extended)
        seen[word] |= mask
    }

    private mutating func clearSeen(_ extended: Int64) {
        let (word, mask) = bitPosition(extended)
        seen[word] &= ~mask
    }

    /// §6.4.1: D(i-1, i) = (Rj - Ri) - (Sj - Si) with R in timestamp units; J += (|D| - J) / 16.
    /// Transit times are kept modulo 2^32 so timestamp wrap-around cancels out in the difference.
    private mutating func updateJitter(rtpTimestamp: UInt32, arrival: Instant) {
        let arrivalTicks = UInt32(truncatingIfNeeded: rtpTicks(nanoseconds: arrival.nanoseconds, clockRate: clockRate))
        let transit = arrivalTicks &- rtpTimestamp
        if let last = lastTransit {
            let d = Int32(bitPattern: transit &- last).magnitude
            jitterEstimate += (Double(d) - jitterEstimate) / 16
        }
        lastTransit = transit
    }
}
