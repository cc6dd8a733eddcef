public import RelaisReceive
public import RelaisWire

/// How the buffer learns where frames start and which are keyframes.
public enum VideoPayloadFormat: Sendable, Equatable {
    /// RFC 7741: frame start is S = 1, PID = 0; keyframe is P = 0 in the VP8 payload header.
    case vp8

    /// (frame start, keyframe), or nil for a malformed payload.
    func classify(_ payload: [UInt8]) -> (start: Bool, keyframe: Bool)? {
        switch self {
        case .vp8:
            return payload.withUnsafeBytes { raw in
                guard let descriptor = try? VP8PayloadDescriptor(parsing: raw) else { return nil }
                return (descriptor.isFrameStart, descriptor.isKeyframe(in: raw))
            }
        }
    }
}

/// A complete frame out of the jitter buffer: its packets in sequence order.
public struct JitterBufferFrame: Sendable, Equatable {
    public var packets: [RTPPacket]
    public var rtpTimestamp: UInt32
    public var isKeyframe: Bool
    public var firstSequenceNumber: SequenceNumber
    public var lastSequenceNumber: SequenceNumber
    /// Arrival of the frame's first-arriving and last-arriving packets.
    public var firstArrival: Instant
    public var lastArrival: Instant
}

/// What `JitterBuffer.insert` did with a packet.
public enum JitterBufferInsertResult: Sendable, Equatable {
    case stored
    /// Already in the buffer.
    case duplicate
    /// Behind the decode position (its frame was emitted, dropped or skipped).
    case late
    /// The payload is not valid for the payload format; ignored.
    case malformed
    /// A jump of more than `capacity` sequence numbers not yet confirmed by a following packet
    /// (RFC 3550 §A.1 probation); ignored.
    case probation
    /// A confirmed jump: the sender restarted, the buffer was cleared and waits for a keyframe.
    case restarted
}

/// Reorders the packets of one incoming video stream and hands out complete frames in decode order.
///
/// Sans-IO: `insert` packets with their arrival instant, then call `popFrame(now:)` until it
/// returns nil, `nacks(now:rtt:into:)` to learn what to NACK, and come back at `nextDeadline`.
///
/// Frames. A frame is complete when every sequence number from its start packet (VP8: S = 1,
/// PID = 0) to its marker packet is present with the same RTP timestamp. Frames leave strictly in
/// sequence order: the next frame must start right after the previous one's marker packet.
///
/// Loss. When the head frame stays incomplete for `maxWait` after the oldest packet waiting behind
/// it arrived, or when the window of `capacity` sequence numbers must move past it, the frame is
/// dropped. What happens next is `lossPolicy`:
/// - `.waitForKeyframe` (the default, right for VP8, whose inter frames reference earlier ones):
///   `needsKeyframe` becomes true (the caller sends a PLI, throttled), every following non-key
///   frame is skipped, and decoding resumes at the first complete keyframe;
/// - `.decodeAnyway`: decoding resumes at the next complete frame (the decoder conceals).
/// Decoding always starts at a keyframe; complete non-key frames before the first one are skipped
/// and set `needsKeyframe` too.
///
/// NACK. Gaps feed a `NackGenerator` (RelaisReceive's, the relay's own policy: first NACK after a
/// short reorder wait, retries every max(RTT, 20 ms)) with the buffer's extended sequence numbers;
/// packets below the decode position stop being requested.
///
/// Bounds. Packets live in a ring of `capacity` slots indexed by extended sequence number, so the
/// buffer never holds more than `capacity` packets whatever arrives. Sequence numbers are extended
/// relative to the highest seen; a jump beyond the window either way is believed only when the next
/// packet follows it (then it is a sender restart), so a burst of garbage cannot move the window.
public struct JitterBuffer: Sendable {
    public enum LossPolicy: Sendable, Equatable {
        case waitForKeyframe
        case decodeAnyway
    }

    public struct Configuration: Sendable, Equatable {
        public var format: VideoPayloadFormat = .vp8
        /// How long an incomplete head frame may hold up decoding.
        public var maxWait: Duration = .milliseconds(200)
        /// Packets held at most (the width of the sequence window).
        public var capacity: Int = 1024
        public var lossPolicy: LossPolicy = .waitForKeyframe
        public var nack = NackGenerator.Configuration()

        public init() {}
    }

    struct Stored: Sendable {
        var extended: Int64
        var packet: RTPPacket
        var arrival: Instant
        var isStart: Bool
        var isKeyframe: Bool
    }

    public let configuration: Configuration
    private var slots: [Stored?]
    public private(set) var count = 0
    public private(set) var nack: NackGenerator

    /// Highest extended sequence number accepted, nil before the first packet.
    private var highest: Int64?
    /// Lowest extended sequence number that can still be stored; lower ones are late.
    private var low: Int64 = 0
    /// Where the next frame must start, or nil while resynchronising (at the start, after a drop).
    private var nextDecode: Int64?
    /// The sequence number that would confirm a large jump.
    private var probationNext: SequenceNumber?

    /// Decoding is stalled until a keyframe (at the start, and after a loss under `.waitForKeyframe`).
    public private(set) var waitingForKeyframe = true
    /// True when a frame was dropped or skipped and only a keyframe can resume decoding: the
    /// caller should send a PLI (throttled). Cleared when a keyframe is handed out.
    public private(set) var needsKeyframe = false

    public private(set) var framesEmitted = 0
    /// Incomplete frames given up (timeout or capacity).
    public private(set) var framesDropped = 0
    /// Complete frames not handed out because decoding waited for a keyframe.
    public private(set) var framesSkipped = 0
    public private(set) var packetsDuplicate = 0
    public private(set) var packetsLate = 0
    public private(set) var packetsMalformed = 0
    public private(set) var packetsProbation = 0
    public private(set) var restarts = 0

    public init(configuration: Configuration = Configuration()) {
        precondition(configuration.capacity > 0, "jitter buffer needs capacity")
        self.configuration = configuration
        self.slots = Array(repeating: nil, count: configuration.capacity)
        self.nack = NackGenerator(configuration: configuration.nack)
    }

    // MARK: - Input

    /// Stores a packet, classifying it with the configured payload format.
    @discardableResult
    public mutating func insert(_ packet: RTPPacket, arrival: Instant) -> JitterBufferInsertResult {
        guard let kind = configuration.format.classify(packet.payload) else {
            packetsMalformed += 1
            // Still counts as received: NACKing it again would bring back the same bytes.
            if let extended = extend(packet.sequenceNumber, probe: false) { nack.received(extended: extended, now: arrival) }
            return .malformed
        }
        return insert(packet, isFrameStart: kind.start, isKeyframe: kind.keyframe, arrival: arrival)
    }

    /// Stores a packet whose frame boundaries the caller determined (other payload formats).
    @discardableResult
    public mutating func insert(
        _ packet: RTPPacket, isFrameStart: Bool, isKeyframe: Bool, arrival: Instant
    ) -> JitterBufferInsertResult {
        var result = JitterBufferInsertResult.stored
        let extended: Int64
        if let e = extend(packet.sequenceNumber, probe: true) {
            extended = e
        } else if probationNext == packet.sequenceNumber {
            // Confirmed jump: start over beyond everything seen, so nothing old can be mistaken for new.
            restart()
            // Its low 16 bits must be the sequence number, for the packets that follow to extend from it.
            let beyond = (highest ?? 0) + Int64(configuration.capacity) * 2
            extended = ((beyond >> 16) + 1) << 16 | Int64(packet.sequenceNumber.rawValue)
            highest = extended
            low = extended
            probationNext = nil
            result = .restarted
        } else {
            probationNext = packet.sequenceNumber.advanced(by: 1)
            packetsProbation += 1
            return .probation
        }
        if result != .restarted { probationNext = nil }
        nack.received(extended: extended, now: arrival)
        guard extended >= low else {
            packetsLate += 1
            return .late
        }
        let window = Int64(configuration.capacity)
        if extended >= low + window {
            advanceWindow(to: extended - window + 1)
        }
        let slot = index(extended)
        if let existing = slots[slot], existing.extended == extended {
            packetsDuplicate += 1
            return .duplicate
        }
        slots[slot] = Stored(
            extended: extended, packet: packet, arrival: arrival, isStart: isFrameStart, isKeyframe: isKeyframe)
        count += 1
        if extended > highest! { highest = extended }
        return result
    }

    // MARK: - Output

    /// The next complete frame in decode order, or nil. Also applies the `maxWait` deadline at
    /// `now`: call it after every insert and at `nextDeadline`.
    public mutating func popFrame(now: Instant) -> JitterBufferFrame? {
        while count > 0 {
            if let n = nextDecode {
                if let end = completeFrameEnd(startingAt: n) {
                    return emit(from: n, to: end)
                }
                guard let oldest = oldestArrival(), now >= oldest + configuration.maxWait else { return nil }
                dropHead()
                continue
            }
            // Resynchronising: the earliest complete frame we may decode, skipping the others.
            guard let top = highest else { return nil }
            var e = low
            var skipThrough: Int64?
            while e <= top {
                guard let stored = slot(e), stored.isStart, let end = completeFrameEnd(startingAt: e) else {
                    e += 1
                    continue
                }
                if stored.isKeyframe || !waitingForKeyframe {
                    discard(below: e)
                    return emit(from: e, to: end)
                }
                framesSkipped += 1
                needsKeyframe = true
                skipThrough = end
                e = end + 1
            }
            if let skipThrough { discard(below: skipThrough + 1) }
            // Frames still incomplete after maxWait will not be decoded; free their packets.
            discardArrived(before: now, olderThan: configuration.maxWait)
            return nil
        }
        return nil
    }

    /// Sequence numbers to NACK now (see `NackGenerator`), into `lost`.
    public mutating func nacks(now: Instant, rtt: Duration, into lost: inout [SequenceNumber]) {
        nack.due(now: now, rtt: rtt, into: &lost)
    }

    /// When to call `popFrame` and `nacks` again, or nil with nothing pending.
    public var nextDeadline: Instant? {
        let frameDeadline = oldestArrival().map { $0 + configuration.maxWait }
        switch (frameDeadline, nack.nextDeadline) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b): return b
        }
    }

    // MARK: - Internals

    private func index(_ extended: Int64) -> Int { Int(extended % Int64(configuration.capacity)) }

    private func slot(_ extended: Int64) -> Stored? {
        guard let stored = slots[index(extended)], stored.extended == extended else { return nil }
        return stored
    }

    /// The extended sequence number of `sequence`, or nil when it is more than a window away from
    /// the highest seen. The first packet starts the window.
    private mutating func extend(_ sequence: SequenceNumber, probe: Bool) -> Int64? {
        guard let top = highest else {
            guard probe else { return nil }
            let extended = Int64(1) << 16 | Int64(sequence.rawValue)  // room below for reordering
            highest = extended
            // Packets sent just before the first one to arrive (reordered) are still accepted.
            low = extended - Int64(min(64, configuration.capacity / 2))
            return extended
        }
        let delta = Int64(sequence.distance(from: SequenceNumber(UInt16(truncatingIfNeeded: top))))
        guard abs(delta) <= Int64(configuration.capacity) else { return nil }
        let extended = top + delta
        // Before the first packet: the window may reach back, but not past zero.
        return extended >= 0 ? extended : nil
    }

    /// The marker packet's extended sequence number if the frame starting at `start` is complete.
    private func completeFrameEnd(startingAt start: Int64) -> Int64? {
        guard let first = slot(start), first.isStart, let top = highest else { return nil }
        var e = start
        while e <= top {
            guard let stored = slot(e), stored.packet.timestamp == first.packet.timestamp else { return nil }
            if stored.isStart && e != start { return nil }
            if stored.packet.marker { return e }
            e += 1
        }
        return nil
    }

    private mutating func emit(from start: Int64, to end: Int64) -> JitterBufferFrame {
        var packets: [RTPPacket] = []
        packets.reserveCapacity(Int(end - start + 1))
        var firstArrival = Instant(nanoseconds: .max)
        var lastArrival = Instant.zero
        var isKeyframe = false
        for e in start...end {
            let i = index(e)
            guard let stored = slots[i] else { continue }
            if e == start { isKeyframe = stored.isKeyframe }
            packets.append(stored.packet)
            firstArrival = min(firstArrival, stored.arrival)
            lastArrival = max(lastArrival, stored.arrival)
            slots[i] = nil
            count -= 1
        }
        nextDecode = end + 1
        low = end + 1
        nack.forget(below: end + 1)
        framesEmitted += 1
        if isKeyframe {
            waitingForKeyframe = false
            needsKeyframe = false
        }
        return JitterBufferFrame(
            packets: packets, rtpTimestamp: packets[0].timestamp, isKeyframe: isKeyframe,
            firstSequenceNumber: packets[0].sequenceNumber, lastSequenceNumber: packets[packets.count - 1].sequenceNumber,
            firstArrival: firstArrival, lastArrival: lastArrival)
    }

    /// Gives up the frame at the decode position and switches to resynchronisation.
    private mutating func dropHead() {
        guard nextDecode != nil else { return }
        framesDropped += 1
        nextDecode = nil
        if configuration.lossPolicy == .waitForKeyframe {
            waitingForKeyframe = true
            needsKeyframe = true
        }
    }

    /// Moves the window start to `newLow`, dropping what falls out of it.
    private mutating func advanceWindow(to newLow: Int64) {
        if let n = nextDecode, newLow > n { dropHead() }
        discard(below: newLow)
    }

    /// Removes every stored packet below `extended` and makes them late.
    private mutating func discard(below extended: Int64) {
        guard extended > low else { return }
        if extended - low >= Int64(configuration.capacity) {
            for i in slots.indices { slots[i] = nil }
            count = 0
        } else {
            var e = low
            while e < extended {
                let i = index(e)
                if let stored = slots[i], stored.extended == e {
                    slots[i] = nil
                    count -= 1
                }
                e += 1
            }
        }
        low = extended
        nack.forget(below: extended)
    }

    /// While resynchronising: removes packets that arrived more than `age` before `now`, moving the
    /// window start past them.
    private mutating func discardArrived(before now: Instant, olderThan age: Duration) {
        guard let top = highest else { return }
        var newest: Int64?
        var e = low
        while e <= top {
            if let stored = slot(e), now.since(stored.arrival) >= age { newest = e }
            e += 1
        }
        if let newest {
            framesDropped += 1
            discard(below: newest + 1)
        }
    }

    private func oldestArrival() -> Instant? {
        guard count > 0, let top = highest else { return nil }
        var oldest: Instant?
        var e = low
        while e <= top {
            if let stored = slot(e) { oldest = min(oldest ?? stored.arrival, stored.arrival) }
            e += 1
        }
        return oldest
    }

    private mutating func restart() {
        restarts += 1
        for i in slots.indices { slots[i] = nil }
        count = 0
        nack.reset()
        if nextDecode != nil { framesDropped += 1 }
        nextDecode = nil
        waitingForKeyframe = true
        needsKeyframe = true
    }
}
