import NIOCore
@testable import RelaisServer
import RelaisWire
import ServerTestSupport
import TestSupport
import Testing

/// Simulcast through the media loop (issue 15): a publisher sends three VP8 layers, each under an
/// SSRC it never announced, named by the RID extension of its first packets; a subscriber receives
/// one layer, switches at the new layer's keyframe, and sees one stream whose sequence numbers,
/// timestamps and VP8 picture ids continue across the switch. Real ICE, DTLS and SRTP in memory.
@Suite struct SimulcastForwardingTests {
    static let ssrcs: [String: UInt32] = ["q": 0xA1, "h": 0xA2, "f": 0xA3]
    static let sizes: [String: (Int, Int)] = ["q": (320, 180), "h": (640, 360), "f": (1280, 720)]

    /// A VP8 packet (RFC 7741) with a 15-bit picture id, TL0PICIDX and TID 0; a keyframe carries
    /// its dimensions (RFC 6386 §9.1).
    static func vp8(pictureID: UInt16, tl0: UInt8, keyframe size: (Int, Int)?) -> [UInt8] {
        var bytes: [UInt8] = [0x90, 0xE0, 0x80 | UInt8(pictureID >> 8), UInt8(pictureID & 0xFF), tl0, 0x20]
        if let (width, height) = size {
            bytes += [0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, UInt8(width & 0xFF), UInt8(width >> 8), UInt8(height & 0xFF), UInt8(height >> 8)]
        } else {
            bytes += [0x11, 0x02, 0x00]
        }
        return bytes + [UInt8](repeating: 0x55, count: 300)
    }

    /// One frame (one packet) of a layer: its own sequence, timestamp and picture numbering.
    struct Layer {
        let rid: String
        var sequence: UInt16
        var timestamp: UInt32
        var pictureID: UInt16
        var tl0: UInt8

        mutating func next(keyframe: Bool) -> (ssrc: UInt32, rid: String?, sequence: UInt16, timestamp: UInt32, marker: Bool, payload: [UInt8]) {
            defer {
                sequence &+= 1
                timestamp &+= 3_000
                pictureID = (pictureID + 1) & 0x7FFF
                tl0 &+= 1
            }
            return (SimulcastForwardingTests.ssrcs[rid]!, rid, sequence, timestamp, true,
                    SimulcastForwardingTests.vp8(pictureID: pictureID, tl0: tl0, keyframe: keyframe ? SimulcastForwardingTests.sizes[rid]! : nil))
        }
    }

    /// Feeds the packets and returns what the first subscriber received (decrypted) and the RTCP
    /// the publisher got.
    func send(_ harness: ForwardingHarness, _ packets: [(ssrc: UInt32, rid: String?, sequence: UInt16, timestamp: UInt32, marker: Bool, payload: [UInt8])]) -> [RTPPacket] {
        harness.prepareLayerRTP(packets)
        var received: [RTPPacket] = []
        for index in packets.indices {
            harness.feed(index) { envelope in
                if let packet = harness.firstSubscriberRTP(envelope) { received.append(packet) }
            }
        }
        return received
    }

    static func pictureID(_ packet: RTPPacket) -> UInt16 { UInt16(packet.payload[2] & 0x7F) << 8 | UInt16(packet.payload[3]) }

    @Test func theSubscriberGetsTheLargestLayerAndSwitchesAtTheChosenLayersKeyframeWithContinuousNumbering() throws {
        let harness = try ForwardingHarness(subscribers: 1, simulcast: ["q", "h", "f"])
        var q = Layer(rid: "q", sequence: 100, timestamp: 1_000, pictureID: 7_000, tl0: 10)
        var h = Layer(rid: "h", sequence: 20_000, timestamp: 500_000, pictureID: 300, tl0: 200)
        var f = Layer(rid: "f", sequence: 65_530, timestamp: 4_000_000_000, pictureID: 32_760, tl0: 250)

        // Every layer starts with a keyframe; only the top one (the publisher's last) is forwarded.
        var out = send(harness, [q.next(keyframe: true), h.next(keyframe: true), f.next(keyframe: true)])
        #expect(out.count == 1)
        #expect(out.first?.payload.count == Self.vp8(pictureID: 0, tl0: 0, keyframe: (1, 1)).count)
        #expect(out.first.map(Self.pictureID) == 32_760)
        #expect(harness.firstSubscriberLayer.current == "f")
        out += send(harness, [q.next(keyframe: false), f.next(keyframe: false), h.next(keyframe: false), f.next(keyframe: false)])
        #expect(out.count == 3)
        #expect(Set(out.map(\.ssrc.rawValue)) == [ForwardingHarness.firstOutputSSRC])

        // The expert asks for the smallest layer: the relay asks the publisher for a keyframe of it
        // on its next tick, and keeps sending the old layer until that keyframe comes.
        harness.selectLayerForFirst("q", now: MediaLoop.now())
        #expect(harness.firstSubscriberLayer == ("f", "q"))
        var plis: [UInt32] = []
        harness.tick(at: MediaLoop.now()) { envelope in
            guard let rtcp = harness.publisherRTCP(envelope) else { return }
            rtcp.withUnsafeBytes { bytes in
                var cursor = RTCPCompoundIterator(bytes)
                while let packet = try? cursor.next() {
                    if let pli = try? PictureLossIndicationView(packet) { plis.append(pli.mediaSSRC.rawValue) }
                }
            }
        }
        #expect(plis == [Self.ssrcs["q"]!])
        out += send(harness, [q.next(keyframe: false), f.next(keyframe: false)])
        #expect(out.count == 4, "the old layer flows until the new one's keyframe")
        let beforeSwitch = try #require(out.last)
        out += send(harness, [q.next(keyframe: true), f.next(keyframe: false), q.next(keyframe: false)])
        #expect(out.count == 6, "the old layer stops at the switch")
        #expect(harness.firstSubscriberLayer == ("q", "q"))
        let keyframe = out[4]
        let after = out[5]
        #expect(keyframe.sequenceNumber == beforeSwitch.sequenceNumber.advanced(by: 1))
        #expect(after.sequenceNumber == keyframe.sequenceNumber.advanced(by: 1))
        #expect(Self.pictureID(keyframe) == (Self.pictureID(beforeSwitch) + 1) & 0x7FFF)
        #expect(Self.pictureID(after) == (Self.pictureID(keyframe) + 1) & 0x7FFF)
        #expect(keyframe.payload[4] == beforeSwitch.payload[4] &+ 1, "TL0PICIDX continues")
        #expect(keyframe.timestamp &- beforeSwitch.timestamp < 90_000 && keyframe.timestamp != beforeSwitch.timestamp)
        #expect(after.timestamp &- keyframe.timestamp == 3_000)
        #expect(Set(out.map(\.ssrc.rawValue)) == [ForwardingHarness.firstOutputSSRC])

        // Back to the relay's choice: the top layer again, at its keyframe.
        harness.selectLayerForFirst(nil, now: MediaLoop.now())
        #expect(harness.firstSubscriberLayer == ("q", "f"))
        out += send(harness, [f.next(keyframe: false), q.next(keyframe: false), f.next(keyframe: true)])
        #expect(out.count == 8)
        #expect(Self.pictureID(out[7]) == (Self.pictureID(out[6]) + 1) & 0x7FFF)
        #expect(out[7].sequenceNumber == out[6].sequenceNumber.advanced(by: 1))
        #expect(harness.firstSubscriberLayer == ("f", "f"))

        // The admin view: three layers with their sizes from the keyframes, one subscriber on "f".
        let statistics = harness.loop.roomStatistics("benchmark")
        let published = try #require(statistics.transports.values.flatMap(\.published).first)
        #expect(published.layers.map(\.rid) == ["q", "h", "f"])
        #expect(published.layers.map(\.width) == [320, 640, 1280])
        #expect(published.layers.map(\.height) == [180, 360, 720])
        #expect(published.layers.map(\.ssrc) == [0xA1, 0xA2, 0xA3])
        #expect(published.layers.map(\.subscribers) == [0, 0, 1])
        #expect(published.layers.map(\.keyframes) == [2, 1, 2])
        let forwarded = try #require(statistics.transports.values.flatMap(\.forwarded).first)
        #expect(forwarded.layer == "f" && forwarded.layerSwitches == 2)
    }

    @Test func aPacketWithAnUnknownRIDOrNoRIDBindsNothing() throws {
        let harness = try ForwardingHarness(subscribers: 1, simulcast: ["q", "h", "f"])
        var out = send(harness, [
            (0xB1, "x", 1, 1, true, Self.vp8(pictureID: 1, tl0: 1, keyframe: (1280, 720))),
            (0xB2, nil, 1, 1, true, Self.vp8(pictureID: 1, tl0: 1, keyframe: (1280, 720))),
        ])
        #expect(out.isEmpty)
        #expect(harness.loop.roomStatistics("benchmark").transports.values.flatMap(\.published).first?.layers.allSatisfy { $0.ssrc == nil } == true)
        // Once bound by its RID, a layer's later packets need no extension.
        var f = Layer(rid: "f", sequence: 1, timestamp: 1, pictureID: 1, tl0: 1)
        out = send(harness, [f.next(keyframe: true)])
        var bare = f.next(keyframe: false)
        bare.rid = nil
        out += send(harness, [bare])
        #expect(out.count == 2)
    }
}

/// RTX from a simulcast publisher (RFC 4588, RFC 8852 §3.2): a retransmission on a layer's repair
/// SSRC, named by the repaired-RID extension, fills the hole as the original packet; a
/// padding-only probe goes no further.
@Suite struct RepairStreamTests {
    @Test func aRetransmissionOnTheRepairSSRCIsForwardedAsTheOriginalAndAProbeIsNot() throws {
        let harness = try ForwardingHarness(subscribers: 1, simulcast: ["q", "h", "f"], rtx: true)
        let tests = SimulcastForwardingTests()
        var f = SimulcastForwardingTests.Layer(rid: "f", sequence: 500, timestamp: 90_000, pictureID: 40, tl0: 1)
        let first = f.next(keyframe: true)
        let second = f.next(keyframe: false)
        let lost = f.next(keyframe: false)
        let fourth = f.next(keyframe: false)
        var out = tests.send(harness, [first, second, fourth])
        #expect(out.map(\.sequenceNumber.rawValue) == [500, 501, 503])

        var received: [RTPPacket] = []
        harness.prepareRepairRTP(repairSSRC: 0xC3, rid: "f", sequence: 7, original: lost.sequence, payload: lost.payload)
        harness.feed(0) { envelope in if let packet = harness.firstSubscriberRTP(envelope) { received.append(packet) } }
        let repaired = try #require(received.first, "the retransmission was not forwarded")
        #expect(repaired.sequenceNumber.rawValue == 502)
        #expect(repaired.ssrc.rawValue == ForwardingHarness.firstOutputSSRC)
        #expect(repaired.payloadType.rawValue == 100)
        #expect(repaired.payload == lost.payload)

        // A padding-only probe on the same repair SSRC, and the same retransmission again: nothing.
        received.removeAll()
        harness.prepareRepairRTP(repairSSRC: 0xC3, rid: "f", sequence: 8, original: nil, payload: [], at: 0)
        harness.prepareRepairRTP(repairSSRC: 0xC3, rid: "f", sequence: 9, original: lost.sequence, payload: lost.payload, at: 1)
        harness.feed(0) { envelope in if let packet = harness.firstSubscriberRTP(envelope) { received.append(packet) } }
        harness.feed(1) { envelope in if let packet = harness.firstSubscriberRTP(envelope) { received.append(packet) } }
        #expect(received.isEmpty)
        out += tests.send(harness, [f.next(keyframe: false)])
        #expect(out.last?.sequenceNumber.rawValue == 504)
        // The layer's loss is repaired in the relay's receive statistics.
        let layer = try #require(harness.loop.roomStatistics("benchmark").transports.values.flatMap(\.published).first)
        #expect(layer.packetsLost == 0)
    }
}

extension RepairStreamTests {
    /// An authenticated publisher that sends nonsense on its RTX payload type and names layers at
    /// random (short and padded RTX payloads, unknown RIDs, SSRCs that change every packet): nothing
    /// traps, and what reaches the subscriber is one stream that never reuses an output sequence
    /// number for different content.
    @Test func hostileRepairAndLayerPacketsNeverTrapOrReuseAnIndex() throws {
        let harness = try ForwardingHarness(subscribers: 1, simulcast: ["q", "h", "f"], rtx: true)
        var random = SplitMix64(seed: 4588)
        let rids = ["q", "h", "f", "x", ""]
        var seen: [UInt16: [UInt8]] = [:]
        for round in 0..<300 {
            let rid = rids[Int(random.next() % UInt64(rids.count))]
            let ssrc = UInt32(0xD0 + random.next() % 6)
            let sequence = UInt16(truncatingIfNeeded: random.next() % 64)
            if random.chance(0.5) {
                let payload = random.bytes(Int(random.next() % 40))
                harness.prepareRepairRTP(
                    repairSSRC: ssrc, rid: rid, sequence: sequence, original: random.chance(0.8) ? UInt16(truncatingIfNeeded: random.next() % 64) : nil,
                    payload: payload)
            } else {
                let keyframe = random.chance(0.3)
                harness.prepareLayerRTP([(ssrc, random.chance(0.5) ? rid : nil, sequence, UInt32(round) * 3000, true,
                                          SimulcastForwardingTests.vp8(pictureID: UInt16(round), tl0: UInt8(truncatingIfNeeded: round), keyframe: keyframe ? (640, 360) : nil))])
            }
            harness.feed(0) { envelope in
                guard let packet = harness.firstSubscriberRTP(envelope) else { return }
                if let earlier = seen[packet.sequenceNumber.rawValue] {
                    #expect(earlier == packet.payload, "output \(packet.sequenceNumber.rawValue) carried two payloads")
                }
                seen[packet.sequenceNumber.rawValue] = packet.payload
            }
        }
        #expect(harness.loop.roomStatistics("benchmark").transports.values.flatMap(\.published).first?.layers.count == 3)
    }
}
