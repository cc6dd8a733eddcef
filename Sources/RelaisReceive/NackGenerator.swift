public import RelaisWire

/// Receiver-side loss detection for one incoming stream: which sequence numbers to NACK (RFC 4585
/// §6.2.1), when, and when to give up. The relay runs one per publisher stream, the client's jitter
/// buffer one per subscribed video stream: one policy, one set of constants. The ideas are
/// mediasoup's NackGenerator and libwebrtc's nack_module; the shape is sans-IO: `received` on every
/// packet, `due` when `nextDeadline` passes.
///
/// Sequence numbers. `received(_:now:)` extends 16-bit sequence numbers itself; a caller that
/// already extends them (the client's jitter buffer, which re-bases on a sender restart) passes
/// `received(extended:now:)` instead, and can `forget(below:)` packets that stopped mattering and
/// `reset()` on a restart. One generator is driven through one of the two, never both.
///
/// Timing. A gap is not NACKed at once: the first request waits `reorderWait` (10 ms by default)
/// because mild reordering is common on Wi-Fi and cellular uplinks, and a spurious NACK costs a
/// full retransmitted packet on the cart's constrained uplink. 10 ms is small next to the receiver
/// jitter buffers (50 ms and up) that a recovered packet must reach. After that a sequence is
/// re-requested every max(RTT, `minRetryInterval`) — a retransmission cannot arrive sooner than a
/// round trip, so asking again earlier only duplicates it — up to `maxRetries` times.
///
/// Bounds. The list holds at most `maxEntries` sequences; when a gap would overflow it, the oldest
/// are dropped and counted as given up (they would be too late to decode anyway). A forward jump
/// larger than `maxGap` is treated as a sender restart: the list is cleared (its sequences counted
/// as given up) and a reset counted, instead of NACKing thousands of packets. Storage is reserved
/// at init; nothing allocates after.
public struct NackGenerator: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Delay before the first NACK of a newly detected gap.
        public var reorderWait: Duration = .milliseconds(10)
        /// Floor of the retry interval when the RTT is small or unknown.
        public var minRetryInterval: Duration = .milliseconds(20)
        /// NACKs sent per sequence number before giving up.
        public var maxRetries: Int = 10
        /// Most sequence numbers tracked at once.
        public var maxEntries: Int = 500
        /// A forward jump larger than this clears the list instead of NACKing every packet skipped.
        public var maxGap: Int = 1000

        public init() {}
    }

    public let configuration: Configuration

    @usableFromInline
    struct Entry: Sendable {
        var extended: Int64
        var nextSendAt: UInt64
        var retries: Int
        /// When the last NACK for it was sent (0 before the first).
        var lastSentAt: UInt64 = 0
    }

    /// Missing packets in ascending extended sequence order (gaps are only ever appended past the
    /// highest sequence, so the order holds without sorting).
    private var entries: [Entry]
    private var unwrapper = SequenceNumberUnwrapper()
    private var highest: Int64?

    /// Sequence numbers NACKed (each retry counts once).
    public private(set) var nacksSent = 0
    /// Missing packets that arrived after at least one NACK, and before any (reordering).
    public private(set) var recovered = 0
    public private(set) var reorderedBeforeNack = 0
    /// Packets abandoned: retries exhausted, or pushed out of a full list.
    public private(set) var givenUp = 0
    /// Forward jumps beyond `maxGap` that cleared the list.
    public private(set) var resets = 0
    /// The NACK round trip: from a packet's only NACK to its arrival (Karn's rule: a packet asked
    /// for twice gives no sample, the arrival could answer either), smoothed as RFC 6298 smooths
    /// TCP's. A relay that sends its publisher no sender reports has no other round trip to it.
    public private(set) var roundTrip: Duration?

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.maxEntries > 0 && configuration.maxRetries > 0, "NACK generator needs room and retries")
        self.configuration = configuration
        self.entries = []
        self.entries.reserveCapacity(configuration.maxEntries)
    }

    /// Sequence numbers currently awaited.
    public var missingCount: Int { entries.count }

    /// The awaited sequence numbers, oldest first (for tests and stats; allocates).
    public var missing: [SequenceNumber] {
        entries.map { SequenceNumber(UInt16(truncatingIfNeeded: $0.extended)) }
    }

    /// The awaited sequence numbers as extended by the caller of `received(extended:now:)`.
    public var missingExtended: [Int64] { entries.map(\.extended) }

    /// Accounts for one received packet (original or retransmission).
    public mutating func received(_ sequence: SequenceNumber, now: Instant) {
        received(extended: unwrapper.unwrap(sequence), now: now)
    }

    /// Accounts for one received packet whose sequence number the caller extended to 64 bits.
    public mutating func received(extended: Int64, now: Instant) {
        guard let top = highest else {
            highest = extended
            return
        }
        if extended > top {
            let gap = extended - top - 1
            highest = extended
            if gap == 0 { return }
            if gap > Int64(configuration.maxGap) {
                resets += 1
                givenUp += entries.count
                entries.removeAll(keepingCapacity: true)
                return
            }
            let firstSend = now.nanoseconds &+ configuration.reorderWait.nanosecondsClamped
            var missingSeq = top + 1
            // Only the newest `maxEntries` of a long gap can fit; the rest are given up at once.
            let fits = Int64(configuration.maxEntries)
            if gap > fits {
                givenUp += Int(gap - fits)
                missingSeq = extended - fits
            }
            while missingSeq < extended {
                if entries.count == configuration.maxEntries {
                    entries.removeFirst()
                    givenUp += 1
                }
                entries.append(Entry(extended: missingSeq, nextSendAt: firstSend, retries: 0))
                missingSeq += 1
            }
            return
        }
        // Late or duplicate: clear its entry if we were waiting for it.
        if let index = index(of: extended) {
            let entry = entries[index]
            if entry.retries > 0 { recovered += 1 } else { reorderedBeforeNack += 1 }
            if entry.retries == 1, now.nanoseconds >= entry.lastSentAt {
                let sample = Duration.nanoseconds(Int64(min(now.nanoseconds - entry.lastSentAt, 10_000_000_000)))
                roundTrip = roundTrip.map { $0 * 7 / 8 + sample / 8 } ?? sample
            }
            entries.remove(at: index)
        }
    }

    /// Collects the sequence numbers whose NACK is due at `now` into `lost` (emptied first, its
    /// capacity kept, so the caller reuses one array), oldest first, and schedules their next
    /// retry. Entries that have used up their retries are dropped and counted as given up.
    ///
    /// - Parameter rtt: the current round-trip estimate to the sender; the retry interval is
    ///   max(rtt, `minRetryInterval`).
    public mutating func due(now: Instant, rtt: Duration, into lost: inout [SequenceNumber]) {
        lost.removeAll(keepingCapacity: true)
        let interval = max(rtt.nanosecondsClamped, configuration.minRetryInterval.nanosecondsClamped)
        var write = 0
        for read in entries.indices {
            var entry = entries[read]
            if entry.nextSendAt <= now.nanoseconds {
                if entry.retries >= configuration.maxRetries {
                    givenUp += 1
                    continue
                }
                entry.retries += 1
                entry.lastSentAt = now.nanoseconds
                entry.nextSendAt = now.nanoseconds &+ interval
                nacksSent += 1
                lost.append(SequenceNumber(UInt16(truncatingIfNeeded: entry.extended)))
            }
            entries[write] = entry
            write += 1
        }
        entries.removeLast(entries.count - write)
    }

    /// Stops waiting for every sequence below `extended` (the client's decoder is past them: their
    /// frame was decoded or dropped, so a retransmission would come too late). Not counted as given
    /// up: nothing was abandoned that still mattered.
    public mutating func forget(below extended: Int64) {
        var count = 0
        while count < entries.count, entries[count].extended < extended { count += 1 }
        entries.removeFirst(count)
    }

    /// Forgets everything, the highest sequence included (a confirmed sender restart).
    public mutating func reset() {
        entries.removeAll(keepingCapacity: true)
        highest = nil
        unwrapper = SequenceNumberUnwrapper()
    }

    /// When `due` next has something to do: the earliest scheduled NACK, or nil with nothing
    /// missing. An entry that has exhausted its retries is due at its last retry interval's end,
    /// when it is given up.
    public var nextDeadline: Instant? {
        guard !entries.isEmpty else { return nil }
        var earliest = UInt64.max
        for entry in entries { earliest = min(earliest, entry.nextSendAt) }
        return Instant(nanoseconds: earliest)
    }

    private func index(of extended: Int64) -> Int? {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].extended < extended { low = mid + 1 } else { high = mid }
        }
        return low < entries.count && entries[low].extended == extended ? low : nil
    }

    // MARK: - Wire

    /// Writes one Generic NACK (RTPFB PT 205, FMT 1; RFC 4585 §6.2.1) for `sortedLost` (ascending
    /// modulo 2^16) into `buffer`, packing each run of 17 into one PID+BLP pair, and stops cleanly
    /// when the buffer is full.
    ///
    /// - Returns: bytes written (0 when not even one pair fits) and how many of `sortedLost` the
    ///   packet covers; the caller sends the rest in another packet.
    public static func writeNACK(
        senderSSRC: SSRC, mediaSSRC: SSRC, sortedLost: some Collection<SequenceNumber>,
        into buffer: UnsafeMutableRawBufferPointer
    ) -> (bytesWritten: Int, sequencesCovered: Int) {
        // Header (4) + sender SSRC (4) + media SSRC (4), then 4 bytes per pair; the 16-bit length
        // field caps a packet far above any MTU, but cap it anyway so the field cannot overflow.
        let pairRoom = min((buffer.count - 12) / 4, 0xFFFF - 2)
        guard pairRoom >= 1, !sortedLost.isEmpty else { return (0, 0) }
        var pairs = 0
        var position = 12
        var builder = NACKPairBuilder()
        // Index in `sortedLost` of the first sequence of the pair the builder is still filling.
        var pendingStart = 0
        var index = 0
        var full = false
        for sequence in sortedLost {
            if let pair = builder.add(sequence) {
                buffer.setU16(pair.packetID.rawValue, at: position)
                buffer.setU16(pair.lostBitmask, at: position + 2)
                position += 4
                pairs += 1
                pendingStart = index
                if pairs == pairRoom {
                    full = true
                    break
                }
            }
            index += 1
        }
        let covered: Int
        if !full, let pair = builder.finish() {
            buffer.setU16(pair.packetID.rawValue, at: position)
            buffer.setU16(pair.lostBitmask, at: position + 2)
            position += 4
            covered = index
        } else {
            covered = pendingStart
        }
        buffer[0] = 0x80 | RTCPFeedbackFormat.genericNACK
        buffer[1] = RTCPPacketType.transportFeedback
        buffer.setU16(UInt16(position / 4 - 1), at: 2)
        buffer.setU32(senderSSRC.rawValue, at: 4)
        buffer.setU32(mediaSSRC.rawValue, at: 8)
        return (position, covered)
    }
}
