public import RelaisWire

/// The recent packets of one published stream, kept so the relay can answer a subscriber's NACK
/// (RFC 4585 §6.2.1) itself instead of asking the publisher again (mediasoup's RtpStreamSend
/// retransmission buffer).
///
/// One slab of `slotCount × slotSize` bytes is allocated at init and reused: a packet goes to slot
/// `sequence % slotCount`, overwriting whatever was there. A lookup answers only for that exact
/// sequence number and only while the copy is younger than `maxAge`, so a slot reused after the
/// 16-bit sequence wraps, or a packet the decoder can no longer use, is never sent. Nothing
/// allocates after init.
///
/// A class because it owns raw memory (freed in `deinit`). Like the rest of the media path it is
/// confined to one event loop, hence not `Sendable`.
public final class RetransmissionBuffer {
    /// Slots in the ring; 1024 covers about 3 s of a 2.5 Mbit/s stream of 1200-byte packets.
    public let slotCount: Int
    /// Largest packet a slot holds: an Ethernet MTU.
    public let slotSize: Int
    /// Older copies are not retransmitted: by then the receiver's jitter buffer gave up on them and
    /// a retransmission only wastes the subscriber's bandwidth (libwebrtc keeps ~1 s, mediasoup 2 s).
    public let maxAge: Duration

    public static let defaultSlotCount = 1024
    public static let defaultSlotSize = 1500

    private let slab: UnsafeMutableRawPointer
    private let lengths: UnsafeMutablePointer<Int>
    private let sequences: UnsafeMutablePointer<UInt16>
    private let storedAt: UnsafeMutablePointer<UInt64>
    private let maxAgeNanoseconds: UInt64

    /// Packets copied in.
    public private(set) var stored = 0
    /// Packets refused because they exceed `slotSize` (a misbehaving sender, or a jumbo MTU).
    public private(set) var rejectedOversize = 0
    /// Lookups answered, and lookups for packets overwritten, expired or never stored.
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(
        slotCount: Int = RetransmissionBuffer.defaultSlotCount,
        slotSize: Int = RetransmissionBuffer.defaultSlotSize,
        maxAge: Duration = .seconds(2)
    ) {
        // Configuration, not network input: a zero-sized ring is a programming error.
        precondition(slotCount > 0 && slotSize > 0, "retransmission buffer needs at least one non-empty slot")
        self.slotCount = slotCount
        self.slotSize = slotSize
        self.maxAge = maxAge
        self.maxAgeNanoseconds = maxAge.nanosecondsClamped
        self.slab = UnsafeMutableRawPointer.allocate(byteCount: slotCount * slotSize, alignment: 16)
        self.lengths = .allocate(capacity: slotCount)
        self.lengths.initialize(repeating: -1, count: slotCount)  // -1: empty
        self.sequences = .allocate(capacity: slotCount)
        self.sequences.initialize(repeating: 0, count: slotCount)
        self.storedAt = .allocate(capacity: slotCount)
        self.storedAt.initialize(repeating: 0, count: slotCount)
    }

    deinit {
        slab.deallocate()
        lengths.deallocate()
        sequences.deallocate()
        storedAt.deallocate()
    }

    @inline(__always)
    private func slot(for sequence: SequenceNumber) -> Int {
        Int(sequence.rawValue) % slotCount
    }

    /// Copies `packet` (the whole RTP packet as it will be retransmitted) into its slot. Returns
    /// false, counting it, when the packet is larger than a slot.
    @discardableResult
    public func store(_ packet: UnsafeRawBufferPointer, sequence: SequenceNumber, now: Instant) -> Bool {
        guard packet.count <= slotSize else {
            rejectedOversize += 1
            return false
        }
        let index = slot(for: sequence)
        if let base = packet.baseAddress, packet.count > 0 {
            (slab + index * slotSize).copyMemory(from: base, byteCount: packet.count)
        }
        lengths[index] = packet.count
        sequences[index] = sequence.rawValue
        storedAt[index] = now.nanoseconds
        stored += 1
        return true
    }

    /// The stored copy of `sequence`, or nil when its slot holds another packet, is empty, or the
    /// copy is older than `maxAge`. The bytes stay valid until the next `store` into the same slot;
    /// send (or copy) them before storing again.
    public func packet(for sequence: SequenceNumber, now: Instant) -> UnsafeRawBufferPointer? {
        let index = slot(for: sequence)
        let length = lengths[index]
        guard length >= 0, sequences[index] == sequence.rawValue,
            now.nanoseconds(since: Instant(nanoseconds: storedAt[index])) <= maxAgeNanoseconds
        else {
            misses += 1
            return nil
        }
        hits += 1
        return UnsafeRawBufferPointer(start: slab + index * slotSize, count: length)
    }

    /// Forgets every packet (the publisher's source changed, so old sequence numbers mean nothing).
    public func removeAll() {
        lengths.update(repeating: -1, count: slotCount)
    }
}

@available(*, unavailable, message: "confined to its media loop")
extension RetransmissionBuffer: Sendable {}
