import TestSupport
import Testing

@testable import RelaisSFU

/// The VP8 payload descriptor fields the relay rewrites at a layer switch (RFC 7741 §4.2).
@Suite("VP8PayloadDescriptor")
struct VP8PayloadDescriptorTests {
    static func parse(_ bytes: [UInt8]) -> VP8PayloadDescriptor? { bytes.withUnsafeBytes { VP8PayloadDescriptor(parsing: $0) } }

    @Test func readsPictureIDTL0PicIdxTemporalLayerAndKeyframeSize() throws {
        // X S | I L T | M + 15-bit id 0x0123 | TL0PICIDX 5 | TID 2, Y | keyframe 640x480
        let key = try #require(Self.parse([0x90, 0xE0, 0x81, 0x23, 0x05, 0xA0] + KeyframeDetectorTests.vp8KeyHeader))
        #expect(key.pictureID == 0x0123 && key.pictureIDIs15Bit)
        #expect(key.tl0PicIdx == 5 && key.temporalLayer == 2)
        #expect(key.startsFrame)
        #expect(key.keyframeWidth == 640 && key.keyframeHeight == 480)
        // 7-bit id, no TL0PICIDX, an inter frame.
        let inter = try #require(Self.parse([0x90, 0x80, 0x17] + KeyframeDetectorTests.vp8InterHeader))
        #expect(inter.pictureID == 0x17 && !inter.pictureIDIs15Bit && inter.tl0PicIdx == nil)
        #expect(inter.keyframeWidth == nil)
        // No extension: nothing to rewrite.
        let plain = try #require(Self.parse([0x10] + KeyframeDetectorTests.vp8KeyHeader))
        #expect(plain.pictureID == nil && plain.tl0PicIdx == nil && plain.keyframeWidth == 640)
    }

    @Test func truncatedDescriptorsAreNilAndNeverTrap() {
        #expect(Self.parse([]) == nil)
        #expect(Self.parse([0x90]) == nil)
        #expect(Self.parse([0x90, 0x80]) == nil)
        #expect(Self.parse([0x90, 0x80, 0x81]) == nil)
        #expect(Self.parse([0x90, 0xC0, 0x01]) == nil)
        #expect(Self.parse([0x90, 0x20]) == nil)
        var random = SplitMix64(seed: 15)
        for _ in 0..<20_000 {
            let bytes = (0..<Int(random.next() % 16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            guard var descriptor = Self.parse(bytes) else { continue }
            var copy = bytes
            copy.withUnsafeMutableBytes { descriptor.write(pictureID: 0x7FFF, tl0PicIdx: 9, into: $0) }
            descriptor = Self.parse(copy)!
            if descriptor.pictureID != nil { #expect(descriptor.pictureID == (descriptor.pictureIDIs15Bit ? 0x7FFF : 0x7F)) }
        }
    }

    /// Two sources, each with its own numbering: the output continues across the switch, in both
    /// widths, and wraps as the field does.
    @Test func pictureIDsAndTL0PicIdxContinueAcrossEpochs() throws {
        var continuity = VP8PictureContinuity()
        func forward(_ bytes: [UInt8], newest: Bool = true, newEpoch: Bool = false) -> VP8PayloadDescriptor {
            var copy = bytes
            let descriptor = Self.parse(copy)!
            if newEpoch { continuity.beginEpoch(first: descriptor) }
            copy.withUnsafeMutableBytes { continuity.rewrite(descriptor, in: $0, newest: newest) }
            return Self.parse(copy)!
        }
        func packet(_ id: UInt16, tl0: UInt8) -> [UInt8] { [0x90, 0xE0, 0x80 | UInt8(id >> 8), UInt8(id & 0xFF), tl0, 0x00, 0x11] }
        // The first source keeps its numbers.
        #expect(forward(packet(0x7FFE, tl0: 254)).pictureID == 0x7FFE)
        #expect(forward(packet(0x7FFF, tl0: 255)).pictureID == 0x7FFF)
        // The second starts where the first stopped, wrapping: 0x7FFF + 1 = 0, 255 + 1 = 0.
        let first = forward(packet(100, tl0: 7), newEpoch: true)
        #expect(first.pictureID == 0 && first.tl0PicIdx == 0)
        #expect(forward(packet(101, tl0: 8)).pictureID == 1)
        // A retransmission of an older packet is rewritten the same way but does not move the end.
        #expect(forward(packet(100, tl0: 7), newest: false).pictureID == 0)
        // A 7-bit source after it: 2, 3 (mod 128).
        let seven = forward([0x90, 0x80, 0x50, 0x11], newEpoch: true)
        #expect(seven.pictureID == 2 && !seven.pictureIDIs15Bit)
        #expect(forward([0x90, 0x80, 0x51, 0x11]).pictureID == 3)
    }
}
