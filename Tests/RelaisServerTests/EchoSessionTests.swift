@testable import RelaisServer
import TestSupport
import RelaisWire
import Testing

@Suite struct EchoSessionTests {
    let echo = EchoSession(videoSSRC: 0xE0, audioSSRC: 0xA0, videoPayloadTypes: [96], audioPayloadTypes: [111])

    func rtp(pt: UInt8, ssrc: UInt32) -> [UInt8] {
        RTPPacket(payloadType: PayloadType(pt), sequenceNumber: SequenceNumber(1), timestamp: 1, ssrc: SSRC(ssrc), payload: [1, 2, 3]).serialized()
    }

    func send(_ bytes: [UInt8]) -> (EchoSession.RTPAction, [UInt8]) {
        var copy = bytes
        let action = copy.withUnsafeMutableBytes { echo.rewriteRTP($0, length: bytes.count) }
        return (action, copy)
    }

    func translate(_ packets: [RTCPPacket]) throws -> [RTCPPacket] {
        let input = RTCPPacket.serializeCompound(packets)
        var output = [UInt8](repeating: 0, count: 1500)
        let n = input.withUnsafeBytes { i in output.withUnsafeMutableBytes { echo.translateRTCP(i, output: $0) } }
        return n == 0 ? [] : try RTCPPacket.parseCompound(Array(output.prefix(n)))
    }

    @Test func mediaReturnsUnderDeclaredSSRCsAndNewVideoAsksForKeyframe() throws {
        let (first, video) = send(rtp(pt: 96, ssrc: 0x1111))
        #expect(first == .echoAfterKeyframeRequest)
        #expect(try RTPPacket(parsing: video).ssrc == SSRC(0xE0))
        #expect(send(rtp(pt: 96, ssrc: 0x1111)).0 == .echo)
        let (_, audio) = send(rtp(pt: 111, ssrc: 0x2222))
        #expect(try RTPPacket(parsing: audio).ssrc == SSRC(0xA0))
        #expect(send(rtp(pt: 100, ssrc: 0x3333)).0 == .drop)  // payload type not negotiated
        var pli = [UInt8](repeating: 0, count: 64)
        let n = pli.withUnsafeMutableBytes { echo.buildKeyframeRequest(into: $0) }
        let packets = try RTCPPacket.parseCompound(Array(pli.prefix(n)))
        #expect(packets.contains(.pictureLossIndication(PictureLossIndication(senderSSRC: SSRC(0xE0), mediaSSRC: SSRC(0x1111)))))
    }

    @Test func feedbackAboutEchoedStreamsBecomesFeedbackAboutTheSendersStreams() throws {
        _ = send(rtp(pt: 96, ssrc: 0x1111))
        _ = send(rtp(pt: 111, ssrc: 0x2222))
        let out = try translate([
            .receiverReport(ReceiverReport(ssrc: SSRC(9), reportBlocks: [ReportBlock(ssrc: SSRC(0xE0))])),
            .genericNACK(GenericNACK(senderSSRC: SSRC(9), mediaSSRC: SSRC(0xE0), pairs: [NACKPair(packetID: SequenceNumber(5), lostBitmask: 1)])),
            .pictureLossIndication(PictureLossIndication(senderSSRC: SSRC(9), mediaSSRC: SSRC(0xE0))),
            .fullIntraRequest(FullIntraRequest(senderSSRC: SSRC(9), entries: [FIREntry(ssrc: SSRC(0xE0), sequenceNumber: 3)])),
            .pictureLossIndication(PictureLossIndication(senderSSRC: SSRC(9), mediaSSRC: SSRC(0x7777))),  // unknown stream
        ])
        #expect(out.count == 4)  // empty RR prefix + NACK + PLI + FIR; the RR and the stray PLI are dropped
        guard case .receiverReport(let rr) = out[0] else { Issue.record("compound must start with a report"); return }
        #expect(rr.reportBlocks.isEmpty)
        #expect(out[1] == .genericNACK(GenericNACK(senderSSRC: SSRC(9), mediaSSRC: SSRC(0x1111), pairs: [NACKPair(packetID: SequenceNumber(5), lostBitmask: 1)])))
        #expect(out[2] == .pictureLossIndication(PictureLossIndication(senderSSRC: SSRC(9), mediaSSRC: SSRC(0x1111))))
        #expect(out[3] == .fullIntraRequest(FullIntraRequest(senderSSRC: SSRC(9), entries: [FIREntry(ssrc: SSRC(0x1111), sequenceNumber: 3)])))
    }

    @Test func senderReportIsMirroredForLipSync() throws {
        _ = send(rtp(pt: 96, ssrc: 0x1111))
        let out = try translate([
            .senderReport(SenderReport(ssrc: SSRC(0x1111), ntpTimestamp: 0xAABB_CCDD_0011_2233, rtpTimestamp: 90_000, packetCount: 10, octetCount: 1000,
                                       reportBlocks: [ReportBlock(ssrc: SSRC(0xE0))])),
        ])
        #expect(out == [.senderReport(SenderReport(ssrc: SSRC(0xE0), ntpTimestamp: 0xAABB_CCDD_0011_2233, rtpTimestamp: 90_000, packetCount: 10, octetCount: 1000))])
    }

    /// A session that has echoed nothing yet has no stream any feedback could be about: whatever
    /// arrives, random bytes or RTCP-shaped packets with consistent lengths, nothing is sent back.
    /// Seeded, so a failure names an input that replays.
    @Test func garbageRTCPProducesNothing() throws {
        var rng = SplitMix64(seed: 0xEC40)
        var output = [UInt8](repeating: 0, count: 1500)
        var produced: [String] = []
        for round in 0..<4_000 {
            var junk = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if round.isMultiple(of: 2), junk.count >= 12 {
                // RTCP-shaped: version 2, a feedback or report type, a length that fits the datagram.
                let types: [UInt8] = [200, 201, 205, 206]
                junk[0] = 0x80 | (junk[0] & 0x1F)
                junk[1] = types[Int(junk[1]) % types.count]
                let words = min(junk.count / 4 - 1, Int(junk[3]) % 16 + 2)
                junk[2] = 0
                junk[3] = UInt8(words)
                junk = Array(junk.prefix((words + 1) * 4))
            }
            let n = junk.withUnsafeBytes { i in output.withUnsafeMutableBytes { echo.translateRTCP(i, output: $0) } }
            if n != 0 { produced.append("round \(round): \(junk.prefix(16)) -> \(n) bytes") }
        }
        #expect(produced.isEmpty, "garbage was translated: \(produced.prefix(3))")
        #expect(echo.feedbackTranslated == 0)
        // The session still works afterwards.
        _ = send(rtp(pt: 96, ssrc: 0x1111))
        let out = try translate([.pictureLossIndication(PictureLossIndication(senderSSRC: SSRC(9), mediaSSRC: SSRC(0xE0)))])
        #expect(out.last == .pictureLossIndication(PictureLossIndication(senderSSRC: SSRC(9), mediaSSRC: SSRC(0x1111))))
    }

    @Test func firAboutNoEchoedStreamIsDropped() throws {
        _ = send(rtp(pt: 96, ssrc: 0x1111))
        let stray = try translate([.fullIntraRequest(FullIntraRequest(senderSSRC: SSRC(9), entries: [FIREntry(ssrc: SSRC(0x7777), sequenceNumber: 1)]))])
        #expect(stray.isEmpty, "a FIR about a stream the relay does not echo must not go back to the sender")
        let mixed = try translate([.fullIntraRequest(FullIntraRequest(senderSSRC: SSRC(9), entries: [
            FIREntry(ssrc: SSRC(0x7777), sequenceNumber: 1), FIREntry(ssrc: SSRC(0xE0), sequenceNumber: 2),
        ]))])
        #expect(mixed.last == .fullIntraRequest(FullIntraRequest(senderSSRC: SSRC(9), entries: [FIREntry(ssrc: SSRC(0x1111), sequenceNumber: 2)])))
    }
}

