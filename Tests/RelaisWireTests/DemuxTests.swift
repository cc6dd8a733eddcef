@testable import RelaisWire
import Testing

@Suite struct DemuxTests {
    @Test(arguments: [
        ([0x00, 0x01], PacketClass.stun),
        ([0x01, 0x01], .stun),
        ([0x10, 0x00], .zrtp),
        ([0x16, 0xFE], .dtls),   // handshake record, DTLS 1.2
        ([0x17, 0xFE], .dtls),   // application data
        ([0x40, 0x00], .turnChannel),
        ([0x80, 0x60], .rtp),    // PT 96
        ([0x80, 0xE0], .rtp),    // PT 96 with marker
        ([0x80, 0xC8], .rtcp),   // SR (200)
        ([0x81, 0xC9], .rtcp),   // RR (201)
        ([0x81, 0xCD], .rtcp),   // RTPFB (205)
        ([0x80, 0xDF], .rtcp),   // 223, last of the RFC 5761 range
        ([0x80, 0xBF], .rtp),    // 191, just below it
        ([0xC0, 0x00], .unknown),
        ([0xFF], .unknown),
        ([0x80], .unknown),      // RTP/RTCP needs a second byte
        ([], .unknown),
    ] as [([UInt8], PacketClass)])
    func classifiesByFirstBytes(bytes: [UInt8], expected: PacketClass) {
        #expect(PacketClass.classify(bytes) == expected)
    }

    @Test func everyFirstByteClassifiesWithoutTrapping() {
        for first in 0...255 {
            for second in [0, 0xC8, 0xFF] {
                _ = PacketClass.classify([UInt8(first), UInt8(second)])
            }
        }
    }
}
