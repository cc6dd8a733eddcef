public import RelaisWire

/// Which missing packets of one incoming stream to NACK (RFC 4585 §6.2.1), and when. The same
/// policy as the relay's NackGenerator, over extended (64-bit) sequence numbers so that the jitter
/// buffer can tell it which packets stopped mattering:
///
/// - a gap is first NACKed after `reorderWait` (mild reordering is common; a spurious NACK costs a
///   retransmission on the sender's uplink);
/// - then every max(RTT, `minRetryInterval`), since an answer cannot come sooner than a round trip;
/// - at most `maxRetries` times, then given up;
/// - at most `maxEntries` tracked (oldest given up first); a jump over `maxGap` is not NACKed.
public struct NackTracker: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var reorderWait: Duration = .milliseconds(10)
        public var minRetryInterval: Duration = .milliseconds(20)
        public var maxRetries: Int = 10
        public var maxEntries: Int = 512
        public var maxGap: Int = 1000

        public init() {}
    }

    struct Entry: Sendable {
        var extended: Int64
        var nextSendAt: UInt64
        var retries: Int
    }

    public let configuration: Configuration
    /// Ascending by extended sequence number.
    private var entries: [Entry] = []
    private var highest: Int64?

    public private(set) var nacksSent = 0
    public private(set) var recovered = 0
    public private(set) var givenUp = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        entries.reserveCapacity(configuration.maxEntries)
    }

    public var missingCount: Int { entries.count }
    /// Awaited extended sequence numbers, oldest first (allocates; for tests and stats).
    public var missing: [Int64] { entries.map(\.extended) }

    /// Accounts for the packet with extended sequence number `extended`.
    public mutating func received(_ extended: Int64, now: Instant) {
        guard let top = highest else {
            highest = extended
            return
        }
        if extended > top {
            highest = extended
            let gap = extended - top - 1
            guard gap > 0 else { return }
            guard gap <= Int64(configuration.maxGap) else {
                givenUp += entries.count
                entries.removeAll(keepingCapacity: true)
                return
            }
            let first = now.nanoseconds &+ configuration.reorderWait.nanosecondsClamped
            var sequence = max(top + 1, extended - Int64(configuration.maxEntries))
            givenUp += Int(sequence - (top + 1))
            while sequence < extended {
                if entries.count == configuration.maxEntries {
                    entries.removeFirst()
                    givenUp += 1
                }
                entries.append(Entry(extended: sequence, nextSendAt: first, retries: 0))
                sequence += 1
            }
        } else if let index = index(of: extended) {
            if entries[index].retries > 0 { recovered += 1 }
            entries.remove(at: index)
        }
    }

    /// Stops waiting for every sequence below `extended` (their frame was decoded or dropped).
    public mutating func forget(below extended: Int64) {
        let count = entries.prefix { $0.extended < extended }.count
        entries.removeFirst(count)
    }

    /// Clears everything (stream restart).
    public mutating func reset() {
        entries.removeAll(keepingCapacity: true)
        highest = nil
    }

    /// Sequence numbers whose NACK is due at `now`, oldest first, into `lost` (emptied first).
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
                entry.nextSendAt = now.nanoseconds &+ interval
                nacksSent += 1
                lost.append(SequenceNumber(UInt16(truncatingIfNeeded: entry.extended)))
            }
            entries[write] = entry
            write += 1
        }
        entries.removeLast(entries.count - write)
    }

    /// The earliest scheduled NACK, or nil when nothing is missing.
    public var nextDeadline: Instant? {
        entries.lazy.map(\.nextSendAt).min().map(Instant.init(nanoseconds:))
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
}
