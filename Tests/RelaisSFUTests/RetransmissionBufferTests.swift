import RelaisWire
import Testing

@testable import RelaisSFU

@Suite("RetransmissionBuffer")
struct RetransmissionBufferTests {
    static func packet(_ seq: UInt16, size: Int = 100) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: Int(seq) &+ $0) }
    }

    static func lookup(_ buffer: RetransmissionBuffer, _ seq: UInt16, at now: Instant) -> [UInt8]? {
        buffer.packet(for: SequenceNumber(seq), now: now).map { Array($0) }
    }

    @Test func returnsACopyOfTheExactSequence() {
        let buffer = RetransmissionBuffer()
        var original = Self.packet(42, size: 1200)
        original.withUnsafeBytes { #expect(buffer.store($0, sequence: SequenceNumber(42), now: ms(0))) }
        let expected = original
        original[0] = 0xFF  // the buffer must hold its own copy
        #expect(Self.lookup(buffer, 42, at: ms(10)) == expected)
        #expect(Self.lookup(buffer, 43, at: ms(10)) == nil)
        #expect(buffer.hits == 1)
        #expect(buffer.misses == 1)
    }

    @Test func aReusedSlotAnswersOnlyForItsNewSequence() {
        let buffer = RetransmissionBuffer(slotCount: 1024)
        Self.packet(5).withRaw { _ = buffer.store($0, sequence: SequenceNumber(5), now: ms(0)) }
        Self.packet(1029).withRaw { _ = buffer.store($0, sequence: SequenceNumber(1029), now: ms(1)) }  // same slot
        #expect(Self.lookup(buffer, 5, at: ms(2)) == nil)
        #expect(Self.lookup(buffer, 1029, at: ms(2)) == Self.packet(1029))
    }

    @Test func copiesOlderThanMaxAgeAreNotReturned() {
        let buffer = RetransmissionBuffer(maxAge: .seconds(2))
        Self.packet(1).withRaw { _ = buffer.store($0, sequence: SequenceNumber(1), now: ms(1000)) }
        #expect(Self.lookup(buffer, 1, at: ms(2900)) != nil)
        #expect(Self.lookup(buffer, 1, at: ms(3000)) != nil)
        #expect(Self.lookup(buffer, 1, at: ms(3001)) == nil)
    }

    /// With a ring size that divides 2^16 and one that does not: packets either side of the wrap
    /// are both kept, and a packet 2^16 sequence numbers later is not mistaken for an old one.
    @Test(arguments: [1024, 1000])
    func wrapAround(slots: Int) {
        let buffer = RetransmissionBuffer(slotCount: slots)
        for seq: UInt16 in [65534, 65535, 0, 1] {
            Self.packet(seq).withRaw { _ = buffer.store($0, sequence: SequenceNumber(seq), now: ms(0)) }
        }
        for seq: UInt16 in [65534, 65535, 0, 1] {
            #expect(Self.lookup(buffer, seq, at: ms(1)) == Self.packet(seq))
        }
        #expect(Self.lookup(buffer, 2, at: ms(1)) == nil)
    }

    @Test func oversizedPacketsAreRejectedAndCounted() {
        let buffer = RetransmissionBuffer()
        let big = [UInt8](repeating: 1, count: 1501)
        big.withRaw { #expect(!buffer.store($0, sequence: SequenceNumber(9), now: .zero)) }
        #expect(buffer.rejectedOversize == 1)
        #expect(buffer.stored == 0)
        #expect(Self.lookup(buffer, 9, at: .zero) == nil)
        let exact = [UInt8](repeating: 2, count: 1500)
        exact.withRaw { #expect(buffer.store($0, sequence: SequenceNumber(9), now: .zero)) }
        #expect(Self.lookup(buffer, 9, at: .zero) == exact)
    }

    @Test func removeAllForgetsEverything() {
        let buffer = RetransmissionBuffer()
        Self.packet(3).withRaw { _ = buffer.store($0, sequence: SequenceNumber(3), now: .zero) }
        buffer.removeAll()
        #expect(Self.lookup(buffer, 3, at: .zero) == nil)
    }
}
