/// One Generic NACK entry (RFC 4585 §6.2.1): a lost packet and a bitmask of the 16 after it.
///
/// ```
/// |            PID                |             BLP               |
/// ```
public struct NACKPair: Hashable, Sendable {
    /// Packet ID: the first lost sequence number.
    public var packetID: SequenceNumber
    /// Bitmask of following lost packets: bit i (least significant is 0) set means PID + i + 1 is lost.
    public var lostBitmask: UInt16

    public init(packetID: SequenceNumber, lostBitmask: UInt16 = 0) {
        self.packetID = packetID
        self.lostBitmask = lostBitmask
    }

    /// The sequence numbers this pair reports lost, PID first, without allocating.
    public var lostSequenceNumbers: LostSequenceNumbers { LostSequenceNumbers(self) }

    /// Iterates PID and then each PID + i + 1 whose bit is set (modulo 2^16).
    public struct LostSequenceNumbers: Sequence, IteratorProtocol {
        let packetID: SequenceNumber
        var mask: UInt16
        var startedWithPID = false

        init(_ pair: NACKPair) {
            self.packetID = pair.packetID
            self.mask = pair.lostBitmask
        }

        public mutating func next() -> SequenceNumber? {
            if !startedWithPID {
                startedWithPID = true
                return packetID
            }
            guard mask != 0 else { return nil }
            let bit = mask.trailingZeroBitCount
            mask &= mask - 1
            return packetID.advanced(by: bit + 1)
        }
    }
}

/// Groups lost sequence numbers into NACK pairs one at a time, so the media path can write a NACK
/// straight into its scratch buffer.
///
/// Feed sequence numbers in ascending order (modulo 2^16); a number within 16 after the current
/// pair's PID joins its bitmask, anything else starts a new pair. Duplicates are ignored; unsorted
/// input still reports every number, only less compactly.
public struct NACKPairBuilder: Sendable {
    private var current: NACKPair?

    public init() {}

    /// Adds `lost`; returns the previous pair when `lost` had to start a new one.
    public mutating func add(_ lost: SequenceNumber) -> NACKPair? {
        if var pair = current {
            let distance = Int(lost.distance(from: pair.packetID))
            if distance == 0 { return nil }
            if (1...16).contains(distance) {
                pair.lostBitmask |= 1 << (distance - 1)
                current = pair
                return nil
            }
        }
        let finished = current
        current = NACKPair(packetID: lost)
        return finished
    }

    /// The pair still being filled, if any; the builder is empty afterwards.
    public mutating func finish() -> NACKPair? {
        defer { current = nil }
        return current
    }
}

/// A Generic NACK (RTPFB PT 205, FMT 1) over the caller's bytes (RFC 4585 §6.2.1).
///
/// ```
/// |V=2|P|  FMT=1  |   PT=205      |          length               |
/// |                  SSRC of packet sender                        |
/// |                  SSRC of media source                         |
/// |            PID                |             BLP               |  (one or more)
/// ```
///
/// Valid only while the caller's buffer is; nothing here allocates.
public struct GenericNACKView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.transportFeedback, format: RTCPFeedbackFormat.genericNACK)
        try header.requireBody(8)
        let body = header.body
        // Zero pairs is pointless but harmless, so it is accepted.
        guard (body.count - 8) % 4 == 0 else { throw .badFCILength(body.count - 8) }
        self.header = header
        self.body = body
    }

    public var senderSSRC: SSRC { SSRC(body.u32(at: 0)) }
    /// The stream whose packets were lost.
    public var mediaSSRC: SSRC { SSRC(body.u32(at: 4)) }
    public var pairCount: Int { (body.count - 8) / 4 }

    /// The PID+BLP pair at `index` (0 ..< pairCount).
    public func pair(at index: Int) -> NACKPair {
        precondition(index >= 0 && index < pairCount, "NACK pair index out of range")
        return NACKPair(
            packetID: SequenceNumber(body.u16(at: 8 + 4 * index)), lostBitmask: body.u16(at: 10 + 4 * index))
    }

    /// Every lost sequence number of every pair, in packet order, without allocating.
    public var lostSequenceNumbers: LostSequenceNumbers { LostSequenceNumbers(view: self) }

    public struct LostSequenceNumbers: Sequence, IteratorProtocol {
        let view: GenericNACKView
        var index = 0
        var current: NACKPair.LostSequenceNumbers?

        init(view: GenericNACKView) {
            self.view = view
        }

        public mutating func next() -> SequenceNumber? {
            while true {
                if let seq = current?.next() { return seq }
                guard index < view.pairCount else { return nil }
                current = view.pair(at: index).lostSequenceNumbers
                index += 1
            }
        }
    }
}

/// A Generic NACK in owned form.
public struct GenericNACK: Equatable, Sendable {
    public var senderSSRC: SSRC
    public var mediaSSRC: SSRC
    public var pairs: [NACKPair]

    public init(senderSSRC: SSRC, mediaSSRC: SSRC, pairs: [NACKPair]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.pairs = pairs
    }

    /// A NACK reporting `sortedLost` (ascending modulo 2^16) as compactly as the pairs allow.
    public init(senderSSRC: SSRC, mediaSSRC: SSRC, sortedLost: some Sequence<SequenceNumber>) {
        self.init(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, pairs: Self.pairs(sortedLost: sortedLost))
    }

    public init(_ view: GenericNACKView) {
        self.init(
            senderSSRC: view.senderSSRC, mediaSSRC: view.mediaSSRC,
            pairs: (0..<view.pairCount).map { view.pair(at: $0) })
    }

    /// Groups `sortedLost` (ascending modulo 2^16) into PID+BLP pairs.
    public static func pairs(sortedLost: some Sequence<SequenceNumber>) -> [NACKPair] {
        var builder = NACKPairBuilder()
        var pairs: [NACKPair] = []
        for seq in sortedLost {
            if let pair = builder.add(seq) { pairs.append(pair) }
        }
        if let pair = builder.finish() { pairs.append(pair) }
        return pairs
    }

    /// Every lost sequence number, in pair order.
    public var lostSequenceNumbers: [SequenceNumber] {
        pairs.flatMap { Array($0.lostSequenceNumbers) }
    }

    public var serializedLength: Int { RTCPHeaderView.size + 8 + 4 * pairs.count }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(
            &writer, count: Int(RTCPFeedbackFormat.genericNACK), packetType: RTCPPacketType.transportFeedback)
        try writer.write(senderSSRC.rawValue)
        try writer.write(mediaSSRC.rawValue)
        for pair in pairs {
            try writer.write(pair.packetID.rawValue)
            try writer.write(pair.lostBitmask)
        }
        try RTCPWriting.end(&writer, start: start)
    }

    /// Writes a NACK for `sortedLost` without building pairs in memory: the relay's NACK generator
    /// calls this with its loss list and a scratch buffer.
    public static func serialize(
        senderSSRC: SSRC, mediaSSRC: SSRC, sortedLost: some Sequence<SequenceNumber>, into writer: inout ByteWriter
    ) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(
            &writer, count: Int(RTCPFeedbackFormat.genericNACK), packetType: RTCPPacketType.transportFeedback)
        try writer.write(senderSSRC.rawValue)
        try writer.write(mediaSSRC.rawValue)
        var builder = NACKPairBuilder()
        for seq in sortedLost {
            if let pair = builder.add(seq) {
                try writer.write(pair.packetID.rawValue)
                try writer.write(pair.lostBitmask)
            }
        }
        if let pair = builder.finish() {
            try writer.write(pair.packetID.rawValue)
            try writer.write(pair.lostBitmask)
        }
        try RTCPWriting.end(&writer, start: start)
    }
}
