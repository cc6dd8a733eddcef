public import RelaisWire

/// The sending side of one outgoing RTP stream (RFC 3550 §5.1): SSRC, payload type, sequence
/// numbers, timestamps from the media clock, the negotiated one-byte header extensions, the counts
/// a sender report needs, and a history of sent packets to answer NACKs from.
///
/// Sans-IO: the caller passes payloads, capture instants and `now`, and gets packet bytes back,
/// written into its own buffer (`write`) or as arrays (`packet`).
///
/// Media clock. The RTP timestamp of a frame captured at `capture` is
/// `timestampOffset + capture.nanoseconds × clockRate / 10^9` modulo 2^32 (90 kHz for video, 48 kHz
/// for Opus). The offset is random (RFC 3550 §5.1), so the absolute origin of the monotonic clock
/// leaks nothing, and frames 1/30 s apart get timestamps 3000 apart.
public struct RTPStreamSender: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var ssrc: SSRC
        public var payloadType: PayloadType
        /// RTP timestamp rate: 90 000 for video, 48 000 for Opus.
        public var clockRate: UInt32
        /// Negotiated one-byte extension id (1...14) of abs-send-time, or nil.
        public var absSendTimeID: UInt8?
        /// Negotiated one-byte extension id (1...14) of transport-wide sequence numbers, or nil.
        public var transportWideSequenceID: UInt8?
        /// Fixed-value extensions written in every packet (mid, RID, repaired RID: RFC 8843, 8852),
        /// one-byte form: ids 1...14, values 1...16 bytes.
        public var fixedExtensions: [FixedExtension]
        /// Packets kept for retransmission.
        public var historyCapacity: Int
        /// Packets older than this are not retransmitted (too late to be decoded anyway).
        public var historyMaxAge: Duration

        public init(
            ssrc: SSRC, payloadType: PayloadType, clockRate: UInt32, absSendTimeID: UInt8? = nil,
            transportWideSequenceID: UInt8? = nil, fixedExtensions: [FixedExtension] = [], historyCapacity: Int = 512,
            historyMaxAge: Duration = .seconds(1)
        ) {
            self.fixedExtensions = fixedExtensions
            self.ssrc = ssrc
            self.payloadType = payloadType
            self.clockRate = clockRate
            self.absSendTimeID = absSendTimeID
            self.transportWideSequenceID = transportWideSequenceID
            self.historyCapacity = historyCapacity
            self.historyMaxAge = historyMaxAge
        }
    }

    /// A header extension whose value never changes for the stream (an SDES item such as the mid).
    public struct FixedExtension: Sendable, Equatable {
        public var id: UInt8
        public var value: [UInt8]

        public init(id: UInt8, value: String) {
            self.id = id
            self.value = Array(value.utf8)
        }
    }

    public let configuration: Configuration
    public let timestampOffset: UInt32
    /// Sequence number of the next new packet.
    public private(set) var nextSequenceNumber: SequenceNumber
    /// RTP packets sent, retransmissions included (RFC 3550 §6.4.1 sender's packet count).
    public private(set) var packetCount: UInt32 = 0
    /// Payload octets sent, retransmissions included (§6.4.1 sender's octet count: no headers, no padding).
    public private(set) var octetCount: UInt32 = 0
    public private(set) var retransmissionCount = 0
    public private(set) var history: SendHistory
    /// The last packet's RTP timestamp and capture instant, to extrapolate an SR's RTP timestamp.
    private var lastTimestamp: (rtp: UInt32, at: Instant)?

    /// With explicit initial values (tests, reproducible runs).
    public init(configuration: Configuration, initialSequenceNumber: SequenceNumber, timestampOffset: UInt32) {
        for id in [configuration.absSendTimeID, configuration.transportWideSequenceID].compactMap({ $0 }) + configuration.fixedExtensions.map(\.id) {
            precondition((1...14).contains(id), "one-byte header extension ids are 1...14")
        }
        for fixed in configuration.fixedExtensions {
            precondition((1...16).contains(fixed.value.count), "one-byte header extension values are 1...16 bytes")
        }
        self.configuration = configuration
        self.nextSequenceNumber = initialSequenceNumber
        self.timestampOffset = timestampOffset
        self.history = SendHistory(capacity: configuration.historyCapacity, maxAge: configuration.historyMaxAge)
    }

    /// With a random initial sequence number and timestamp offset (RFC 3550 §5.1).
    public init(configuration: Configuration, using generator: inout some RandomNumberGenerator) {
        self.init(
            configuration: configuration,
            initialSequenceNumber: SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &generator)),
            timestampOffset: UInt32.random(in: 0...UInt32.max, using: &generator))
    }

    public init(configuration: Configuration) {
        var generator = SystemRandomNumberGenerator()
        self.init(configuration: configuration, using: &generator)
    }

    /// The RTP timestamp for media captured at `capture`, rounded to the nearest tick (so a frame
    /// captured at 1/30 s, truncated to whole nanoseconds, is still exactly 3000 ticks).
    public func rtpTimestamp(at capture: Instant) -> UInt32 {
        let rate = UInt64(configuration.clockRate)
        let ns = capture.nanoseconds
        let ticks = (ns / 1_000_000_000) &* rate &+ ((ns % 1_000_000_000) &* rate &+ 500_000_000) / 1_000_000_000
        return timestampOffset &+ UInt32(truncatingIfNeeded: ticks)
    }

    /// Header length of every packet this stream writes: 12, plus the extension block if any
    /// extension is configured (4-byte block header, elements padded to 32 bits).
    public var headerLength: Int {
        let elements =
            (configuration.absSendTimeID != nil ? 4 : 0) + (configuration.transportWideSequenceID != nil ? 3 : 0)
            + configuration.fixedExtensions.reduce(0) { $0 + 1 + $1.value.count }
        return RTPPacketView.fixedHeaderLength + (elements == 0 ? 0 : 4 + (elements + 3) / 4 * 4)
    }

    /// Where the transport-wide sequence number's two bytes sit in every packet this stream writes
    /// (nil without that extension): a pacer that numbers packets when they leave, not when they
    /// are made, patches them there.
    public var transportSequenceOffset: Int? {
        guard configuration.transportWideSequenceID != nil else { return nil }
        return RTPPacketView.fixedHeaderLength + 4 + (configuration.absSendTimeID != nil ? 4 : 0) + 1
    }

    /// Writes the next packet into `buffer` and records it in the history.
    ///
    /// - Parameters:
    ///   - rtpTimestamp: usually `rtpTimestamp(at: capture)`, the same for every packet of a frame.
    ///   - now: the send time (abs-send-time, history age).
    ///   - transportSequence: the transport-wide sequence number (shared by all streams of the
    ///     transport, so the caller counts it); written only if that extension is configured.
    /// - Returns: bytes written.
    public mutating func write(
        payload: UnsafeRawBufferPointer, marker: Bool, rtpTimestamp: UInt32, now: Instant,
        transportSequence: UInt16? = nil, into buffer: UnsafeMutableRawBufferPointer
    ) throws(BufferTooSmall) -> Int {
        let sequence = nextSequenceNumber
        var writer = ByteWriter(buffer)
        try writeHeader(into: &writer, padding: false, marker: marker, rtpTimestamp: rtpTimestamp, now: now, transportSequence: transportSequence)
        try writer.write(bytes: payload)
        nextSequenceNumber = sequence.advanced(by: 1)
        packetCount &+= 1
        octetCount &+= UInt32(truncatingIfNeeded: payload.count)
        lastTimestamp = (rtpTimestamp, now)
        let written = UnsafeRawBufferPointer(rebasing: buffer[0..<writer.position])
        history.store(written, sequenceNumber: sequence, sentAt: now)
        return writer.position
    }

    /// Writes a padding-only packet (RFC 3550 §5.1: P set, the payload all padding, its last byte
    /// the count) of `paddingBytes` (1...255) after the header: what a sender probes the path with
    /// on its RTX stream (RFC 4588 §4). Not kept for retransmission; counted as a packet, not as
    /// payload octets.
    public mutating func writePadding(
        paddingBytes: Int, rtpTimestamp: UInt32, now: Instant, transportSequence: UInt16? = nil,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(BufferTooSmall) -> Int {
        let count = min(max(paddingBytes, 1), 255)
        var writer = ByteWriter(buffer)
        try writeHeader(into: &writer, padding: true, marker: false, rtpTimestamp: rtpTimestamp, now: now, transportSequence: transportSequence)
        try writer.writeZeros(count - 1)
        try writer.write(UInt8(count))
        nextSequenceNumber = nextSequenceNumber.advanced(by: 1)
        packetCount &+= 1
        return writer.position
    }

    private func writeHeader(
        into writer: inout ByteWriter, padding: Bool, marker: Bool, rtpTimestamp: UInt32, now: Instant, transportSequence: UInt16?
    ) throws(BufferTooSmall) {
        let sequence = nextSequenceNumber
        let hasExtensions = configuration.absSendTimeID != nil || configuration.transportWideSequenceID != nil
            || !configuration.fixedExtensions.isEmpty
        try writer.write(UInt8(0x80) | (padding ? 0x20 : 0) | (hasExtensions ? 0x10 : 0))  // V = 2, P, X
        try writer.write((marker ? 0x80 : 0) | configuration.payloadType.rawValue)
        try writer.write(sequence.rawValue)
        try writer.write(rtpTimestamp)
        try writer.write(configuration.ssrc.rawValue)
        if hasExtensions {
            // RFC 8285 §4.2 one-byte form: 0xBEDE, length in words, then id<<4 | (length - 1).
            let start = writer.position
            try writer.write(UInt16(0xBEDE))
            try writer.write(UInt16(0))  // patched below
            if let id = configuration.absSendTimeID {
                try writer.write(id << 4 | 2)
                try writer.write24(AbsSendTime(nanoseconds: now.nanoseconds).rawValue)
            }
            if let id = configuration.transportWideSequenceID {
                try writer.write(id << 4 | 1)
                try writer.write(transportSequence ?? 0)
            }
            for fixed in configuration.fixedExtensions {
                try writer.write(fixed.id << 4 | UInt8(fixed.value.count - 1))
                try writer.write(bytes: fixed.value)
            }
            let elements = writer.position - start - 4
            let words = (elements + 3) / 4
            try writer.writeZeros(words * 4 - elements)
            writer.patch(UInt16(words), at: start + 2)
        }
    }

    /// `write` into a new array.
    public mutating func packet(
        payload: [UInt8], marker: Bool, rtpTimestamp: UInt32, now: Instant, transportSequence: UInt16? = nil
    ) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerLength + payload.count)
        let length = payload.withUnsafeBytes { source in
            bytes.withUnsafeMutableBytes { destination in
                // The array is sized exactly, so this cannot run out of room.
                (try? write(
                    payload: source, marker: marker, rtpTimestamp: rtpTimestamp, now: now,
                    transportSequence: transportSequence, into: destination)) ?? 0
            }
        }
        bytes.removeSubrange(length...)
        return bytes
    }

    /// All packets of one frame (payloads from a packetizer, marker on the last), with consecutive
    /// sequence numbers. `transportSequence` gives the first packet's transport-wide number; the
    /// following packets take the next ones.
    public mutating func packets(
        frame payloads: [[UInt8]], rtpTimestamp: UInt32, now: Instant, transportSequence: UInt16? = nil
    ) -> [[UInt8]] {
        var result: [[UInt8]] = []
        result.reserveCapacity(payloads.count)
        for (index, payload) in payloads.enumerated() {
            result.append(
                packet(
                    payload: payload, marker: index == payloads.count - 1, rtpTimestamp: rtpTimestamp, now: now,
                    transportSequence: transportSequence.map { $0 &+ UInt16(truncatingIfNeeded: index) }))
        }
        return result
    }

    /// The stored packet for a NACKed `sequence`, byte for byte as first sent, or nil when it is
    /// no longer held. Without RTX the retransmission reuses the original SSRC and sequence number,
    /// hence the same SRTP packet index: rewriting anything in it (abs-send-time, a transport-wide
    /// sequence) would encrypt a different plaintext under the same AEAD nonce (RFC 7714 §8.1),
    /// which breaks AES-GCM. So nothing is rewritten; `transportSequence` is ignored.
    public mutating func retransmission(
        of sequence: SequenceNumber, now: Instant, transportSequence: UInt16? = nil
    ) -> [UInt8]? {
        guard let bytes = history.packet(sequenceNumber: sequence, now: now) else { return nil }
        if let view = bytes.withUnsafeBytes({ try? RTPPacketView(parsing: $0) }) {
            packetCount &+= 1
            octetCount &+= UInt32(truncatingIfNeeded: view.payloadLength)
        }
        retransmissionCount += 1
        return bytes
    }

    public func senderReport(now: Instant, ntpTimestamp: UInt64, reportBlocks: [ReportBlock] = []) -> SenderReport {
        var rtp = rtpTimestamp(at: now)
        if let last = lastTimestamp {
            let elapsed = now.since(last.at).nanosecondsClamped
            rtp = last.rtp &+ UInt32(truncatingIfNeeded: elapsed * UInt64(configuration.clockRate) / 1_000_000_000)
        }
        return SenderReport(
            ssrc: configuration.ssrc, ntpTimestamp: ntpTimestamp, rtpTimestamp: rtp, packetCount: packetCount,
            octetCount: octetCount, reportBlocks: reportBlocks)
    }
}

/// A ring of the most recently sent packets of one stream, looked up by sequence number for
/// retransmission. Slot `seq % capacity` holds the packet; a lookup checks the stored sequence
/// number, so a packet more than `capacity` sends old is gone, as is one older than `maxAge`.
/// Slot arrays keep their capacity, so after warm-up storing does not allocate.
public struct SendHistory: Sendable {
    struct Slot: Sendable {
        var sequence: SequenceNumber?
        var sentAt = Instant.zero
        var bytes: [UInt8] = []
    }

    public let capacity: Int
    public let maxAge: Duration
    private var slots: [Slot]

    public init(capacity: Int = 512, maxAge: Duration = .seconds(1)) {
        precondition(capacity > 0, "history needs a slot")
        self.capacity = capacity
        self.maxAge = maxAge
        self.slots = Array(repeating: Slot(), count: capacity)
    }

    public mutating func store(_ packet: UnsafeRawBufferPointer, sequenceNumber: SequenceNumber, sentAt: Instant) {
        let index = Int(sequenceNumber.rawValue) % capacity
        slots[index].sequence = sequenceNumber
        slots[index].sentAt = sentAt
        slots[index].bytes.removeAll(keepingCapacity: true)
        slots[index].bytes.append(contentsOf: packet)
    }

    /// The packet sent with `sequenceNumber`, or nil if it was overwritten or is older than `maxAge`.
    public func packet(sequenceNumber: SequenceNumber, now: Instant) -> [UInt8]? {
        let slot = slots[Int(sequenceNumber.rawValue) % capacity]
        guard slot.sequence == sequenceNumber, now.since(slot.sentAt) <= maxAge else { return nil }
        return slot.bytes
    }
}
