import NIOCore
@testable import RelaisServer
import RelaisWire
import ServerTestSupport
import Testing

/// The relay's transport-wide congestion feedback to publishers (issue 15), through the loop the
/// server runs, on a room connected in memory with real ICE, DTLS and SRTP: what the publisher
/// decrypts must report every transport-wide number it sent, received or lost.
@Suite("Transport-wide feedback to publishers", .serialized)
struct TransportFeedbackTests {
    static let extensionID: UInt8 = 5

    /// A VP8 keyframe packet (so the down track forwards at once) carrying transport number `transport`.
    static func packet(media sequence: UInt16, transport: UInt16?, marker: Bool) -> [UInt8] {
        RTPPacket(
            marker: marker, payloadType: PayloadType(96), sequenceNumber: SequenceNumber(sequence), timestamp: UInt32(sequence / 4) &* 3000,
            ssrc: SSRC(ForwardingHarness.publisherSSRC),
            extensions: transport.map { [RTPHeaderExtension(id: extensionID, value: [UInt8($0 >> 8), UInt8($0 & 0xFF)])] } ?? [],
            payload: [0x10, 0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01] + [UInt8](repeating: 0x55, count: 900)
        ).serialized()
    }

    /// Transport numbers the publisher received feedback about: true once reported received.
    final class Reports {
        var received: [UInt16: Bool] = [:]
        var feedbackPackets = 0

        func read(_ compound: [UInt8]) {
            compound.withUnsafeBytes { bytes in
                var cursor = RTCPCompoundIterator(bytes)
                while let header = try? cursor.next() {
                    guard let feedback = try? TransportFeedbackView(header) else { continue }
                    feedbackPackets += 1
                    for report in feedback.packets {
                        received[report.sequenceNumber.rawValue, default: false] = received[report.sequenceNumber.rawValue, default: false]
                            || report.arrivalTime != nil
                    }
                }
            }
        }
    }

    @Test func everyPacketOfAPublisherThatSendsTheTransportSequenceIsReported() throws {
        let harness = try ForwardingHarness(subscribers: 1, transportCCExtensionID: Self.extensionID)
        // Transport numbers 65500 to 65539 across the wrap, without 65520 (lost on the way); four packets a frame.
        let numbers = (65500..<65540).filter { $0 != 65520 }.map { UInt16(truncatingIfNeeded: $0) }
        harness.prepareRTP(packets: numbers.enumerated().map { i, number in
            Self.packet(media: 1000 + UInt16(i), transport: number, marker: i % 4 == 3)
        })
        let reports = Reports()
        for i in numbers.indices {
            harness.feed(i) { envelope in harness.publisherRTCP(envelope).map(reports.read) }
        }
        // The first packet is answered at once; the rest are due at the latest 100 ms later.
        #expect(reports.feedbackPackets >= 1)
        harness.tick(at: MediaLoop.now() + .milliseconds(100)) { envelope in harness.publisherRTCP(envelope).map(reports.read) }
        #expect(Set(reports.received.keys) == Set((65500..<65540).map { UInt16(truncatingIfNeeded: $0) }))
        #expect(reports.received[65520] == false)
        #expect(numbers.allSatisfy { reports.received[$0] == true })
        #expect(harness.counters.transportFeedbackToPublishers == reports.feedbackPackets)
        // Forwarding is unaffected: every packet reached the subscriber.
        #expect(harness.counters.forwarded == numbers.count)
    }

    /// A configured ceiling reaches a publisher that negotiated goog-remb once a second, in a REMB
    /// naming its SSRCs; without one, no REMB.
    @Test(arguments: [UInt64(1_500_000), nil])
    func theCeilingGoesToThePublisherInREMBOnceASecond(_ ceiling: UInt64?) throws {
        let harness = try ForwardingHarness(subscribers: 1, rembBitrate: ceiling)
        harness.prepareRTP(packets: [Self.packet(media: 1000, transport: nil, marker: true)])
        var rembs: [REMB] = []
        let collect = { (envelope: AddressedEnvelope<ByteBuffer>) in
            guard let compound = harness.publisherRTCP(envelope) else { return }
            compound.withUnsafeBytes { bytes in
                var cursor = RTCPCompoundIterator(bytes)
                while let header = try? cursor.next() {
                    if let remb = try? REMBView(header) { rembs.append(REMB(remb)) }
                }
            }
        }
        harness.feed(0, collecting: collect)
        let start = MediaLoop.now()
        harness.tick(at: start + .seconds(1), collecting: collect)
        harness.tick(at: start + .milliseconds(1500), collecting: collect)  // not a second since the last one
        harness.tick(at: start + .seconds(2), collecting: collect)
        if let ceiling {
            #expect(rembs.count == 2)
            #expect(rembs.allSatisfy { $0.ssrcs == [SSRC(ForwardingHarness.publisherSSRC)] })
            // 18-bit mantissa: 1 500 000 is sent exactly (1 464 x 2^10 = 1 499 136 would be the nearest below).
            #expect(rembs.allSatisfy { $0.bitrate <= ceiling && $0.bitrate > ceiling - 1024 })
            #expect(harness.counters.rembToPublishers == 2)
        } else {
            #expect(rembs.isEmpty)
            #expect(harness.counters.rembToPublishers == 0)
        }
    }

    @Test func aPublisherWithoutTheExtensionGetsNoTransportFeedback() throws {
        let harness = try ForwardingHarness(subscribers: 1)
        harness.prepareRTP(packets: (0..<20).map { Self.packet(media: 1000 + UInt16($0), transport: UInt16($0), marker: true) })
        let reports = Reports()
        for i in 0..<20 {
            harness.feed(i) { envelope in harness.publisherRTCP(envelope).map(reports.read) }
        }
        harness.tick(at: MediaLoop.now() + .seconds(2)) { envelope in harness.publisherRTCP(envelope).map(reports.read) }
        #expect(reports.feedbackPackets == 0)
        #expect(harness.counters.transportFeedbackToPublishers == 0)
        #expect(harness.counters.forwarded == 20)
    }
}
