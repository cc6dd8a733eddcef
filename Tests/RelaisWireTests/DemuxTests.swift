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

    /// Every first byte lands in its RFC 7983 §7 range (and RTP/RTCP by the RFC 5761 §4 second
    /// byte); nothing outside the ranges is taken for media.
    @Test func everyFirstByteClassifiesByItsRange() {
        for first in 0...255 {
            for second in [0, 0x60, 0xC8, 0xDF, 0xE0, 0xFF] {
                let expected: PacketClass =
                    switch first {
                    case 0...3: .stun
                    case 16...19: .zrtp
                    case 20...63: .dtls
                    case 64...79: .turnChannel
                    case 128...191: (192...223).contains(second) ? .rtcp : .rtp
                    default: .unknown
                    }
                #expect(PacketClass.classify([UInt8(first), UInt8(second)]) == expected, "first byte \(first), second \(second)")
            }
        }
    }
}

@Suite struct TransportAddressTests {
    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("2001:db8:1234:5678:11:2233:4455:6677", "2001:db8:1234:5678:11:2233:4455:6677"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("fe80::", "fe80::"),
        ("::", "::"),
    ])
    func parsesAndPrintsCanonically(text: String, canonical: String) throws {
        let ip = try #require(IPAddress(text))
        #expect(ip.description == canonical)
        #expect(IPAddress(bytes: ip.bytes) == ip)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.256", "1.2.3.4.5", "a.b.c.d", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1"])
    func rejectsMalformed(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func describesWithPort() {
        #expect(TransportAddress(ip: .loopbackV4, port: 5000).description == "127.0.0.1:5000")
        #expect(TransportAddress(ip: .loopbackV6, port: 5000).description == "[::1]:5000")
    }
}
