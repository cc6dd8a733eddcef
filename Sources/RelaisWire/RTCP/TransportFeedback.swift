/// Transport-wide congestion control feedback (RTPFB PT 205, FMT 15) over the caller's bytes
/// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
///
/// ```
/// |V=2|P|  FMT=15 |    PT=205     |           length              |
/// |                     SSRC of packet sender                     |
/// |                      SSRC of media source                     |
/// |      base sequence number     |      packet status count      |
/// |                 reference time                | fb pkt. count |
/// |          packet chunk         |         packet chunk          |
/// :              ...              :  recv delta   |  recv delta   :
/// ```
///
/// Statuses of `packetStatusCount` packets from `baseSequenceNumber` come first as 16-bit chunks
/// (§3.1.3 run length, §3.1.4 status vectors of 14 one-bit or 7 two-bit symbols), then one receive
/// delta per received packet: one unsigned octet for "small" (symbol 01), two signed octets for
/// "large or negative" (symbol 10), in 250 µs ticks. The first delta is relative to the reference
/// time, each later one to the previous received packet.
///
/// Parsing walks every chunk once and checks that all deltas are present, so `packets` cannot run
/// past the packet; nothing is allocated. Valid only while the caller's buffer is.
public struct TransportFeedbackView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer
    /// Offset in `body` of the first receive delta (just past the last chunk needed).
    let deltasOffset: Int

    static let chunksOffset = 16

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.transportFeedback, format: RTCPFeedbackFormat.transportWideCC)
        try header.requireBody(Self.chunksOffset)
        let body = header.body
        let statusCount = Int(body.u16(at: 10))
        var remaining = statusCount
        var offset = Self.chunksOffset
        var deltaBytes = 0
        while remaining > 0 {
            guard offset + 2 <= body.count else {
                throw .countMismatch(declared: statusCount, available: statusCount - remaining)
            }
            let chunk = TransportFeedbackChunk(rawValue: body.u16(at: offset))
            offset += 2
            let described = min(chunk.symbolCount, remaining)
            for i in 0..<described {
                // Symbol 11 is reserved; slots past the status count are ignored (§3.1.4).
                let symbol = chunk.symbol(at: i)
                guard symbol != 3 else { throw .reservedStatusSymbol(index: statusCount - remaining + i) }
                // Conveniently the symbol value is also the size of its delta: 0, 1 or 2 octets.
                deltaBytes += Int(symbol)
                if chunk.isRunLength {
                    deltaBytes += Int(symbol) * (described - 1)
                    break
                }
            }
            remaining -= described
        }
        guard offset + deltaBytes <= body.count else {
            throw .truncated(
                needed: RTCPHeaderView.size + offset + deltaBytes, have: RTCPHeaderView.size + body.count)
        }
        self.header = header
        self.body = body
        self.deltasOffset = offset
    }

    public var senderSSRC: SSRC { SSRC(body.u32(at: 0)) }
    /// Receivers ignore it: transport-wide sequence numbers span every stream of the transport.
    public var mediaSSRC: SSRC { SSRC(body.u32(at: 4)) }
    /// Transport-wide sequence number of the first packet described.
    public var baseSequenceNumber: SequenceNumber { SequenceNumber(body.u16(at: 8)) }
    public var packetStatusCount: Int { Int(body.u16(at: 10)) }
    /// Signed 24-bit, in units of 64 ms, in the feedback sender's own time base.
    public var referenceTime: Int32 { Int32(bitPattern: body.u32(at: 12) & 0xFFFF_FF00) >> 8 }
    /// Counts feedback packets so the media sender can detect lost feedback.
    public var feedbackPacketCount: UInt8 { body.u8(at: 15) }

    /// Each packet's status and arrival time, in sequence order, without allocating.
    public var packets: Packets { Packets(view: self) }

    /// What the feedback says about one packet.
    public struct PacketReport: Equatable, Sendable {
        public let sequenceNumber: SequenceNumber
        public let status: TransportFeedback.Status
        /// Arrival in µs on the feedback sender's clock (reference time × 64 ms plus the deltas so
        /// far); nil when the packet was not received.
        public let arrivalTime: Int64?
    }

    public struct Packets: Sequence, IteratorProtocol {
        let body: UnsafeRawBufferPointer
        var sequenceNumber: SequenceNumber
        var remaining: Int
        var chunkOffset = TransportFeedbackView.chunksOffset
        var chunk = TransportFeedbackChunk(rawValue: 0)
        var symbolIndex = 0
        var deltaOffset: Int
        var time: Int64

        init(view: TransportFeedbackView) {
            self.body = view.body
            self.sequenceNumber = view.baseSequenceNumber
            self.remaining = view.packetStatusCount
            self.deltaOffset = view.deltasOffset
            self.time = Int64(view.referenceTime) * TransportFeedback.referenceTimeUnit
        }

        public mutating func next() -> PacketReport? {
            guard remaining > 0 else { return nil }
            while symbolIndex >= chunk.symbolCount {
                // Bounds were proven by the view; checked again so a bug cannot read past the end.
                guard chunkOffset + 2 <= body.count else { return nil }
                chunk = TransportFeedbackChunk(rawValue: body.u16(at: chunkOffset))
                chunkOffset += 2
                symbolIndex = 0
            }
            let symbol = chunk.symbol(at: symbolIndex)
            symbolIndex += 1
            let status: TransportFeedback.Status
            switch symbol {
            case 1:
                guard deltaOffset + 1 <= body.count else { return nil }
                status = .received(deltaTicks: Int16(body.u8(at: deltaOffset)))
                deltaOffset += 1
            case 2:
                guard deltaOffset + 2 <= body.count else { return nil }
                status = .received(deltaTicks: Int16(bitPattern: body.u16(at: deltaOffset)))
                deltaOffset += 2
            default:
                status = .notReceived
            }
            var arrival: Int64?
            if case .received(let delta) = status {
                time += Int64(delta) * TransportFeedback.tick
                arrival = time
            }
            defer {
                sequenceNumber = sequenceNumber.advanced(by: 1)
                remaining -= 1
            }
            return PacketReport(sequenceNumber: sequenceNumber, status: status, arrivalTime: arrival)
        }
    }
}

/// One 16-bit packet status chunk (§3.1.3, §3.1.4).
struct TransportFeedbackChunk {
    let rawValue: UInt16

    /// T bit clear: a status symbol (2 bits) repeated run-length (13 bits) times.
    var isRunLength: Bool { rawValue & 0x8000 == 0 }
    /// S bit of a vector chunk: 7 two-bit symbols instead of 14 one-bit ones.
    var isTwoBitVector: Bool { rawValue & 0x4000 != 0 }

    var symbolCount: Int {
        if isRunLength { return Int(rawValue & 0x1FFF) }
        return isTwoBitVector ? 7 : 14
    }

    /// Status symbol of slot `index`: 0 not received, 1 small delta, 2 large delta, 3 reserved.
    func symbol(at index: Int) -> UInt8 {
        if isRunLength { return UInt8(truncatingIfNeeded: rawValue >> 13) & 0x3 }
        if isTwoBitVector { return UInt8(truncatingIfNeeded: rawValue >> (12 - 2 * index)) & 0x3 }
        return UInt8(truncatingIfNeeded: rawValue >> (13 - index)) & 0x1
    }

    static let maxRunLength = 0x1FFF
}

/// Transport-wide feedback in owned form: what the relay builds for each media sender, and what a
/// bandwidth estimator reads.
public struct TransportFeedback: Equatable, Sendable {
    /// One packet's fate.
    public enum Status: Hashable, Sendable {
        case notReceived
        /// Arrival relative to the previous received packet (or to the reference time for the
        /// first), in 250 µs ticks. 0...255 is written in one octet, anything else in two.
        case received(deltaTicks: Int16)
    }

    /// Microseconds per receive-delta tick.
    public static let tick: Int64 = 250
    /// Microseconds per reference-time unit.
    public static let referenceTimeUnit: Int64 = 64_000

    public var senderSSRC: SSRC
    public var mediaSSRC: SSRC
    public var baseSequenceNumber: SequenceNumber
    /// In units of 64 ms; only the low 24 bits are sent (read back sign-extended).
    public var referenceTime: Int32
    public var feedbackPacketCount: UInt8
    /// Statuses of packets `baseSequenceNumber`, `baseSequenceNumber + 1`, ...; at most 65535.
    public var packets: [Status]

    public init(
        senderSSRC: SSRC, mediaSSRC: SSRC, baseSequenceNumber: SequenceNumber, referenceTime: Int32,
        feedbackPacketCount: UInt8, packets: [Status]
    ) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.baseSequenceNumber = baseSequenceNumber
        self.referenceTime = referenceTime
        self.feedbackPacketCount = feedbackPacketCount
        self.packets = packets
    }

    public init(_ view: TransportFeedbackView) {
        var packets: [Status] = []
        packets.reserveCapacity(view.packetStatusCount)
        for report in view.packets {
            packets.append(report.status)
        }
        self.init(
            senderSSRC: view.senderSSRC, mediaSSRC: view.mediaSSRC, baseSequenceNumber: view.baseSequenceNumber,
            referenceTime: view.referenceTime, feedbackPacketCount: view.feedbackPacketCount, packets: packets)
    }

    /// Status symbol: 0 not received, 1 small delta, 2 large or negative delta.
    static func symbol(_ status: Status) -> UInt16 {
        switch status {
        case .notReceived: return 0
        case .received(let delta): return (0...255).contains(delta) ? 1 : 2
        }
    }

    /// Chooses chunks greedily: whichever of a run, a 14-slot one-bit vector or a 7-slot two-bit
    /// vector covers the most packets from here. Runs win ties because one chunk then describes
    /// arbitrarily many packets. Calls `emit` with each chunk in order.
    func forEachChunk<E: Error>(_ emit: (UInt16) throws(E) -> Void) throws(E) {
        let n = packets.count
        var i = 0
        while i < n {
            let first = Self.symbol(packets[i])
            var run = 1
            while i + run < n, run < TransportFeedbackChunk.maxRunLength, Self.symbol(packets[i + run]) == first {
                run += 1
            }
            let oneBitSlots = min(14, n - i)
            var oneBitFits = true
            for j in i..<(i + oneBitSlots) where Self.symbol(packets[j]) > 1 {
                oneBitFits = false
                break
            }
            let vectorSlots = oneBitFits ? oneBitSlots : min(7, n - i)
            if run >= vectorSlots {
                try emit(first << 13 | UInt16(run))
                i += run
            } else if oneBitFits {
                // Unused trailing slots stay 0 ("not received"); readers stop at the status count.
                var chunk: UInt16 = 0x8000
                for j in 0..<oneBitSlots {
                    chunk |= Self.symbol(packets[i + j]) << (13 - j)
                }
                try emit(chunk)
                i += oneBitSlots
            } else {
                var chunk: UInt16 = 0xC000
                for j in 0..<vectorSlots {
                    chunk |= Self.symbol(packets[i + j]) << (12 - 2 * j)
                }
                try emit(chunk)
                i += vectorSlots
            }
        }
    }

    var chunkCount: Int {
        var count = 0
        forEachChunk { (_: UInt16) in count += 1 }
        return count
    }

    var deltaBytes: Int {
        packets.reduce(0) { $0 + Int(Self.symbol($1)) }
    }

    public var serializedLength: Int {
        RTCPWriting.padded(RTCPHeaderView.size + TransportFeedbackView.chunksOffset + 2 * chunkCount + deltaBytes)
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        guard let statusCount = UInt16(exactly: packets.count) else {
            preconditionFailure("transport-wide feedback describes at most 65535 packets")
        }
        let start = try RTCPWriting.begin(
            &writer, count: Int(RTCPFeedbackFormat.transportWideCC), packetType: RTCPPacketType.transportFeedback)
        try writer.write(senderSSRC.rawValue)
        try writer.write(mediaSSRC.rawValue)
        try writer.write(baseSequenceNumber.rawValue)
        try writer.write(statusCount)
        try writer.write(UInt32(bitPattern: referenceTime) << 8 | UInt32(feedbackPacketCount))
        try forEachChunk { (chunk: UInt16) throws(BufferTooSmall) in try writer.write(chunk) }
        for status in packets {
            guard case .received(let delta) = status else { continue }
            if Self.symbol(status) == 1 {
                try writer.write(UInt8(delta))
            } else {
                try writer.write(UInt16(bitPattern: delta))
            }
        }
        // Deltas end on any byte: pad with the P bit, as libwebrtc does.
        try RTCPWriting.end(&writer, start: start)
    }
}

/// Builds transport-wide feedback from arrivals, one packet at a time in sequence order.
///
/// Arrival times are in µs on any monotonic clock. The reference time is the first arrival
/// rounded down to 64 ms; each arrival is quantized to 250 µs on its own, so rounding errors do not
/// accumulate over the deltas.
public struct TransportFeedbackBuilder: Sendable {
    public let senderSSRC: SSRC
    public let mediaSSRC: SSRC
    public let feedbackPacketCount: UInt8
    public private(set) var baseSequenceNumber: SequenceNumber?
    private var packets: [TransportFeedback.Status] = []
    /// In 64 ms units, before wrapping to 24 bits.
    private var referenceTime: Int64?
    /// Absolute ticks of the last received packet (or of the reference time).
    private var lastTicks: Int64 = 0

    public init(senderSSRC: SSRC, mediaSSRC: SSRC = SSRC(0), feedbackPacketCount: UInt8) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.feedbackPacketCount = feedbackPacketCount
    }

    public var isEmpty: Bool { packets.isEmpty }
    public var packetCount: Int { packets.count }

    /// Records `sequenceNumber` as received at `arrivalTime` (µs), or as lost when nil. Sequence
    /// numbers skipped since the previous call are recorded as lost.
    ///
    /// Returns false, recording nothing, when the packet cannot join this feedback: it is not after
    /// the previous one, the status count would pass 65535, or its delta does not fit 16 bits
    /// (more than 8 s from the previous arrival). The caller then builds this feedback and starts
    /// the next one with the packet.
    public mutating func add(_ sequenceNumber: SequenceNumber, arrivalTime: Int64?) -> Bool {
        var gap = 0
        if let base = baseSequenceNumber {
            let expected = base.advanced(by: packets.count)
            gap = Int(sequenceNumber.distance(from: expected))
            guard gap >= 0, packets.count + gap + 1 <= Int(UInt16.max) else { return false }
        }
        var status = TransportFeedback.Status.notReceived
        var reference = referenceTime
        var last = lastTicks
        if let arrivalTime {
            if reference == nil {
                let r = Self.floorDivide(arrivalTime, TransportFeedback.referenceTimeUnit)
                reference = r
                last = r * (TransportFeedback.referenceTimeUnit / TransportFeedback.tick)
            }
            let ticks = Self.floorDivide(arrivalTime, TransportFeedback.tick)
            guard let delta = Int16(exactly: ticks - last) else { return false }
            status = .received(deltaTicks: delta)
            last = ticks
        }
        if baseSequenceNumber == nil { baseSequenceNumber = sequenceNumber }
        for _ in 0..<gap {
            packets.append(.notReceived)
        }
        packets.append(status)
        referenceTime = reference
        lastTicks = last
        return true
    }

    /// The feedback so far. With nothing added it describes no packets from sequence 0.
    public func build() -> TransportFeedback {
        // The reference time wraps at 24 bits; receivers unwrap it like any other timestamp.
        let wrapped = Int32(truncatingIfNeeded: ((referenceTime ?? 0) << 40) >> 40)
        return TransportFeedback(
            senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, baseSequenceNumber: baseSequenceNumber ?? SequenceNumber(0),
            referenceTime: wrapped, feedbackPacketCount: feedbackPacketCount, packets: packets)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
