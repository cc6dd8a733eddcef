public import RelaisWire

/// The audio receive path: reorders Opus packets of one stream and releases them in sequence order
/// after a fixed playout delay, with a `.lost` entry for each packet that did not arrive in time, so
/// the decoder runs packet-loss concealment (or FEC from the next packet) for it.
///
/// Playout clock. The first packet fixes the mapping: a packet with RTP timestamp `ts` plays at
/// `firstArrival + playoutDelay + (ts − firstTimestamp) / clockRate`. A missing packet is declared
/// lost at its estimated playout time (see `pop`). A packet arriving after its sequence number was
/// played or declared lost is late and dropped. No adaptation and no clock-drift correction:
/// a fixed delay is what the load generator wants to measure against.
///
/// Bounded: at most `capacity` packets are held; a longer gap of loss is concealed for at most
/// `maxConcealment` packets, then skipped.
public struct AudioPlayoutBuffer: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var playoutDelay: Duration = .milliseconds(40)
        public var clockRate: UInt32 = OpusPayload.clockRate
        public var capacity: Int = 256
        public var maxConcealment: Int = 10

        public init() {}
    }

    public enum Output: Sendable, Equatable {
        case packet(RTPPacket)
        /// Conceal this one (Opus PLC).
        case lost(SequenceNumber)
    }

    public enum InsertResult: Sendable, Equatable {
        case stored, duplicate, late
    }

    public let configuration: Configuration
    private var packets: [Int64: (packet: RTPPacket, timestamp: Int64)] = [:]
    private var sequenceUnwrapper = SequenceNumberUnwrapper()
    private var timestampUnwrapper = TimestampUnwrapper()
    private var base: (arrival: Instant, timestamp: Int64)?
    private var next: Int64?
    private var highest: Int64 = 0
    private var lastPlayed: (extended: Int64, timestamp: Int64)?
    /// RTP timestamp units per sequence number, learnt from consecutive packets (20 ms to start).
    private var step: Int64 = 960
    private var concealedRun = 0

    public private(set) var packetsPlayed = 0
    public private(set) var packetsConcealed = 0
    public private(set) var packetsLate = 0
    public private(set) var packetsDuplicate = 0
    public private(set) var packetsOverflowed = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    @discardableResult
    public mutating func insert(_ packet: RTPPacket, arrival: Instant) -> InsertResult {
        let extended = sequenceUnwrapper.unwrap(packet.sequenceNumber)
        let timestamp = timestampUnwrapper.unwrap(packet.timestamp)
        if base == nil {
            base = (arrival, timestamp)
            next = extended
            highest = extended
        }
        guard let n = next, extended >= n else {
            packetsLate += 1
            return .late
        }
        guard packets[extended] == nil else {
            packetsDuplicate += 1
            return .duplicate
        }
        packets[extended] = (packet, timestamp)
        highest = max(highest, extended)
        // Keep the window bounded: the oldest entries make way.
        let window = Int64(configuration.capacity)
        if highest - n >= window {
            let newNext = highest - window + 1
            for e in n..<min(newNext, n + window) where packets.removeValue(forKey: e) != nil {
                packetsOverflowed += 1
            }
            next = newNext
        }
        return .stored
    }

    /// The next packet (or loss) due at `now`, in sequence order; nil when nothing is due yet.
    ///
    /// A missing packet is due when its estimated playout time passes (the last played packet's
    /// timestamp plus the usual timestamp step per packet), or when a later packet is due, whichever
    /// is first. After `maxConcealment` consecutive losses with nothing newer in the buffer the
    /// stream is taken to be paused (DTX, or the sender stopped) and nothing more is emitted until a
    /// packet arrives.
    public mutating func pop(now: Instant) -> Output? {
        guard let n = next, let base else { return nil }
        if let entry = packets[n] {
            guard now >= playoutTime(timestamp: entry.timestamp, base: base) else { return nil }
            packets[n] = nil
            next = n + 1
            packetsPlayed += 1
            if let last = lastPlayed, n > last.extended, entry.timestamp > last.timestamp {
                step = (entry.timestamp - last.timestamp) / (n - last.extended)
            }
            lastPlayed = (n, entry.timestamp)
            concealedRun = 0
            return .packet(entry.packet)
        }
        var e = n + 1
        while e <= highest, packets[e] == nil { e += 1 }
        let later = e <= highest ? packets[e] : nil
        if later == nil && concealedRun >= configuration.maxConcealment { return nil }
        var due = Instant(nanoseconds: .max)
        if let last = lastPlayed {
            due = playoutTime(timestamp: last.timestamp + (n - last.extended) * step, base: base)
        }
        if let later { due = min(due, playoutTime(timestamp: later.timestamp, base: base)) }
        guard now >= due else { return nil }
        if later != nil, e - n > Int64(configuration.maxConcealment) {
            next = e - Int64(configuration.maxConcealment)  // conceal only the end of a long gap
        }
        let lost = next!
        next = lost + 1
        packetsConcealed += 1
        concealedRun += 1
        return .lost(SequenceNumber(UInt16(truncatingIfNeeded: lost)))
    }

    /// When the next packet in the buffer is due, or nil if empty.
    public var nextDeadline: Instant? {
        guard let base, let earliest = packets.values.map(\.timestamp).min() else { return nil }
        return playoutTime(timestamp: earliest, base: base)
    }

    public var count: Int { packets.count }

    private func playoutTime(timestamp: Int64, base: (arrival: Instant, timestamp: Int64)) -> Instant {
        let offset = timestamp - base.timestamp
        let delay = Int64(configuration.playoutDelay.nanosecondsClamped)
        let media = offset * 1_000_000_000 / Int64(configuration.clockRate)
        let at = Int64(base.arrival.nanoseconds) + delay + media
        return Instant(nanoseconds: UInt64(max(0, at)))
    }
}
