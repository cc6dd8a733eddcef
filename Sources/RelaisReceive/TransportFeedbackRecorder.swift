public import RelaisWire

/// Transport-wide congestion-control feedback for one incoming transport
/// (draft-holmer-rmcat-transport-wide-cc-extensions-01): the arrival time of every packet that
/// carried a transport-wide sequence number, reported to the sender in TWCC packets. A browser's
/// send-side estimator (libwebrtc's GCC) reads the queueing delay on its uplink from them: without
/// this feedback a cart has receiver reports only, starts at 300 kbit/s and climbs blind.
///
/// When. Feedback is due `interval` (100 ms) after the previous one while packets are pending, and
/// sooner after the last packet of a video frame (marker bit), though not before `minimumInterval`
/// (25 ms) since the previous one: the sender's estimator then sees each frame's delay as soon as
/// it is whole, at a cost of about one short RTCP packet per frame. `record` says when a packet
/// makes feedback due, so the caller can answer from the packet path; `nextDeadline` drives timers.
///
/// Reordering. A packet that arrives after its number was reported as lost moves the reporting
/// window back to it, so the next feedback reports it as received (libwebrtc's receiver does the
/// same; the sender takes the later report).
///
/// Bounds. Arrivals live in a ring of `capacity` slots reserved at init: a feedback covers at most
/// that many packets, older ones are dropped unreported, and a forward jump clears at most the
/// ring. One TWCC packet carries at most `maxStatusesPerPacket` statuses (at most about 950 bytes);
/// `writeFeedback` writes as many packets as the pending window needs. Nothing allocates per packet.
public struct TransportFeedbackRecorder: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var interval: Duration = .milliseconds(100)
        public var minimumInterval: Duration = .milliseconds(25)
        /// Slots of the arrival ring (a power of two): 1024 is 4 s of a 2.5 Mbit/s camera's packets.
        public var capacity: Int = 1024
        public var maxStatusesPerPacket: Int = 400

        public init() {}
    }

    public let configuration: Configuration
    /// Arrival in µs of each unwrapped sequence number in the ring, or `notReceived`.
    private var arrivals: [Int64]
    private let mask: Int64
    private static let notReceived = Int64.min
    private var unwrapper = SequenceNumberUnwrapper()
    /// First unreported sequence number (unwrapped); nil before the first packet.
    private var windowStart: Int64?
    /// One past the highest sequence number recorded.
    private var windowEnd: Int64 = 0
    private var lastFeedback: Instant?
    private var frameEnded = false
    private var feedbackCount: UInt8 = 0
    /// The SSRC of the latest packet, for the feedback's media source field.
    private var mediaSSRC = SSRC(0)

    /// Arrivals recorded (reported, or pending for the next feedback), and arrivals too old for the
    /// ring (never reported).
    public private(set) var packetsRecorded = 0
    public private(set) var packetsTooOld = 0
    /// TWCC packets written.
    public private(set) var feedbackPackets = 0

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.capacity > 0 && configuration.capacity & (configuration.capacity - 1) == 0,
                     "the arrival ring's capacity is a power of two")
        precondition(configuration.maxStatusesPerPacket > 0, "a feedback packet reports at least one packet")
        self.configuration = configuration
        self.arrivals = Array(repeating: Self.notReceived, count: configuration.capacity)
        self.mask = Int64(configuration.capacity - 1)
    }

    /// Packets received or skipped since the last feedback, the range the next one reports.
    public var pendingCount: Int { windowStart.map { Int(windowEnd - $0) } ?? 0 }

    /// Records a packet's transport-wide sequence number and arrival. Returns true when feedback
    /// is due now (call `writeFeedback`).
    @discardableResult
    public mutating func record(_ sequence: SequenceNumber, ssrc: SSRC, endOfFrame: Bool, arrival: Instant) -> Bool {
        let extended = unwrapper.unwrap(sequence)
        let capacity = Int64(configuration.capacity)
        let microseconds = Int64(arrival.nanoseconds / 1000)
        if let start = windowStart {
            if extended >= windowEnd {
                // Slots skipped since the highest packet are not received (yet); a jump clears the ring at most.
                let cleared = min(extended - windowEnd, capacity)
                var index = extended - cleared
                while index < extended {
                    arrivals[Int(index & mask)] = Self.notReceived
                    index += 1
                }
                windowEnd = extended + 1
                windowStart = max(start, windowEnd - capacity)
            } else if extended >= windowEnd - capacity {
                // Reordered, or a duplicate: report it (again) from the next feedback on.
                if extended < start { windowStart = extended }
            } else {
                packetsTooOld &+= 1
                return false
            }
        } else {
            windowStart = extended
            windowEnd = extended + 1
        }
        arrivals[Int(extended & mask)] = microseconds
        mediaSSRC = ssrc
        packetsRecorded &+= 1
        if endOfFrame { frameEnded = true }
        return isDue(now: arrival)
    }

    /// Whether feedback is due at `now`.
    public func isDue(now: Instant) -> Bool {
        guard let deadline = nextDeadline else { return false }
        return deadline <= now
    }

    /// When the next feedback is due, or nil with nothing pending.
    public var nextDeadline: Instant? {
        guard pendingCount > 0 else { return nil }
        guard let lastFeedback else { return .zero }
        return lastFeedback + (frameEnded ? configuration.minimumInterval : configuration.interval)
    }

    /// Writes the pending window as TWCC packets (RTPFB 15) into `buffer`, one after the other,
    /// and returns the bytes written; what does not fit stays pending (`pendingCount`), for the
    /// caller's next buffer. `now` is when they are sent.
    public mutating func writeFeedback(senderSSRC: SSRC, into buffer: UnsafeMutableRawBufferPointer, now: Instant) -> Int {
        var writer = ByteWriter(buffer)
        while var start = windowStart, start < windowEnd {
            var builder = TransportFeedbackBuilder(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, feedbackPacketCount: feedbackCount)
            let limit = min(windowEnd, start + Int64(configuration.maxStatusesPerPacket))
            while start < limit {
                let arrival = arrivals[Int(start & mask)]
                let sequence = SequenceNumber(UInt16(truncatingIfNeeded: start))
                // A delta beyond 16 bits (8 s) ends this packet; the next one starts with it.
                guard builder.add(sequence, arrivalTime: arrival == Self.notReceived ? nil : arrival) else { break }
                start += 1
            }
            guard !builder.isEmpty else {
                // Cannot happen (a first packet always fits); never loop on it.
                windowStart = start + 1
                continue
            }
            let feedback = builder.build()
            guard feedback.serializedLength <= writer.remaining, (try? feedback.serialize(into: &writer)) != nil else { break }
            windowStart = start
            feedbackCount &+= 1
            feedbackPackets &+= 1
        }
        if pendingCount == 0 {
            frameEnded = false
        }
        lastFeedback = now
        return writer.position
    }
}
