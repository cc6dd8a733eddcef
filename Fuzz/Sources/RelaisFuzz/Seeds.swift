import Foundation
import RelaisTransport
import RelaisWire

/// Generated seed inputs, written with `relais-fuzz --seeds DIR`: valid packets built with the
/// project's own writers (so every packet type and extension form starts in the corpus), in the
/// input layout each target expects (mode bytes first). run.py adds the SDP fixtures, the
/// signaling transcripts and the unit tests' hex vectors.
enum Seeds {
    static func write(to directory: String) -> Bool {
        var all: [String: [[UInt8]]] = [:]
        all["rtp"] = rtp()
        all["rtcp"] = rtcp()
        all["stun"] = stun()
        all["srtp"] = srtp()
        all["srtp-authentic"] = (rtp() + rtcp()).enumerated().map { i, packet in
            [UInt8(i & 3), 0, 0] + packet
        } + [[1, 40, 0x55] + rtp()[0], [3, 7, 1] + rtcp()[0]]
        all["dtls"] = dtls()
        all["camera"] = camera()
        all["subscribe-answer"] = [Array(NegotiationFuzz.subscribeOfferSeed().utf8)]
        let files = FileManager.default
        for (target, inputs) in all {
            let folder = URL(fileURLWithPath: directory).appendingPathComponent(target)
            do {
                try files.createDirectory(at: folder, withIntermediateDirectories: true)
                for (i, input) in inputs.enumerated() {
                    try Data(input).write(to: folder.appendingPathComponent("generated-\(i)"))
                }
            } catch {
                print("cannot write seeds for \(target): \(error)")
                return false
            }
        }
        return true
    }

    static func rtp() -> [[UInt8]] {
        let vp8 = RTPPacket(marker: true, payloadType: PayloadType(96), sequenceNumber: SequenceNumber(1000), timestamp: 90_000,
                            ssrc: SSRC(0x1234_5678), extensions: [RTPHeaderExtension(id: 3, value: [0, 1]), RTPHeaderExtension(id: 2, value: [1, 2, 3])],
                            payload: [0x90, 0x80, 0x00, 0x9D, 0x01, 0x2A] + Array(repeating: 0xAB, count: 40))
        let opus = RTPPacket(payloadType: PayloadType(111), sequenceNumber: SequenceNumber(65535), timestamp: 48_000,
                             ssrc: SSRC(0xCAFE_BABE), extensions: [RTPHeaderExtension(id: 1, value: [0x80])], payload: Array(repeating: 0xF8, count: 60))
        let twoByte = RTPPacket(payloadType: PayloadType(97), sequenceNumber: SequenceNumber(7), timestamp: 1, ssrc: SSRC(7),
                                extensions: [RTPHeaderExtension(id: 20, value: Array(repeating: 0x11, count: 20)), RTPHeaderExtension(id: 1, value: [])],
                                payload: [1, 2, 3, 4])
        let csrcs = RTPPacket(payloadType: PayloadType(100), sequenceNumber: SequenceNumber(9), timestamp: 9, ssrc: SSRC(9),
                              csrcs: [SSRC(1), SSRC(2), SSRC(3)], payload: [5, 6, 7], paddingLength: 5)
        return [vp8, opus, twoByte, csrcs].map { $0.serialized() }
    }

    static func rtcp() -> [[UInt8]] {
        let sender = SSRC(0x1111_1111), media = SSRC(0x2222_2222)
        let block = ReportBlock(ssrc: media, fractionLost: 12, cumulativeLost: 5, extendedHighestSequenceNumber: 70_000, jitter: 30)
        var feedback = TransportFeedbackBuilder(senderSSRC: sender, mediaSSRC: media, feedbackPacketCount: 3)
        for i in 0..<40 where i % 7 != 3 {
            _ = feedback.add(SequenceNumber(UInt16(100 + i)), arrivalTime: Int64(1_000_000 + i * 900))
        }
        let compounds: [[RTCPPacket]] = [
            [.senderReport(SenderReport(ssrc: sender, ntpTimestamp: 0xE51A_2B3C_4D5E_6F70, rtpTimestamp: 90_000, packetCount: 10, octetCount: 10_000, reportBlocks: [block])),
             .sourceDescription(SourceDescription(chunks: [SDESChunk(source: sender, items: [SDESItem(type: .cname, text: "relais-cname")])]))],
            [.receiverReport(ReceiverReport(ssrc: sender, reportBlocks: [block])),
             .genericNACK(GenericNACK(senderSSRC: sender, mediaSSRC: media, pairs: [NACKPair(packetID: SequenceNumber(500), lostBitmask: 0x8001)]))],
            [.pictureLossIndication(PictureLossIndication(senderSSRC: sender, mediaSSRC: media))],
            [.fullIntraRequest(FullIntraRequest(senderSSRC: sender, entries: [FIREntry(ssrc: media, sequenceNumber: 4)]))],
            [.remb(REMB(senderSSRC: sender, bitrate: 2_500_000, ssrcs: [media, SSRC(3)]))],
            [.transportFeedback(feedback.build())],
            [.goodbye(Goodbye(sources: [sender, media], reasonText: "bye"))],
            [.applicationDefined(ApplicationDefined(subtype: 1, source: sender, name: 0x5445_5354, data: [1, 2, 3, 4]))],
        ]
        return compounds.map { RTCPPacket.serializeCompound($0) }
    }

    static func stun() -> [[UInt8]] {
        let id = STUNTransactionID(high: 1, middle: 2, low: 3)
        // Mode 1: the bytes as sent, integrity and fingerprint included.
        let request = try? STUNMessageBuilder.build(type: .bindingRequest, transactionID: id) { (b: inout STUNMessageBuilder) throws(BufferTooSmall) in
            try b.addUsername("fuzz:peer")
            try b.addPriority(0x6E00_1EFF)
            try b.addICEControlling(0x0102_0304_0506_0708)
            try b.addUseCandidate()
            try b.addMessageIntegrity(password: STUNFuzz.credentials.password)
            try b.addFingerprint()
        }
        let response = try? STUNMessageBuilder.build(type: .bindingSuccess, transactionID: id) { (b: inout STUNMessageBuilder) throws(BufferTooSmall) in
            try b.addXorMappedAddress(TransportAddress(ip: .v4(0xC000_0201), port: 4444))
            try b.addMessageIntegrity(password: STUNFuzz.credentials.password)
            try b.addFingerprint()
        }
        let error = try? STUNMessageBuilder.build(type: .bindingError, transactionID: id) { (b: inout STUNMessageBuilder) throws(BufferTooSmall) in
            try b.addErrorCode(487, reason: "Role Conflict")
            try b.addXorMappedAddress(TransportAddress(ip: .v6(0x2001_0DB8_0000_0000, 1), port: 4444))
        }
        // Mode 0: header and attributes only; the target appends integrity and fingerprint.
        let unsealed = try? STUNMessageBuilder.build(type: .bindingRequest, transactionID: id) { (b: inout STUNMessageBuilder) throws(BufferTooSmall) in
            try b.addUsername("fuzz:peer")
            try b.addPriority(0x6E00_1EFF)
            try b.addICEControlling(0x0102_0304_0506_0708)
            try b.addUseCandidate()
        }
        let controlled = try? STUNMessageBuilder.build(type: .bindingRequest, transactionID: id) { (b: inout STUNMessageBuilder) throws(BufferTooSmall) in
            try b.addUsername("fuzz:peer")
            try b.addICEControlled(9)
            try b.addAttribute(0x0025, value: [])
        }
        return [request, response, error].compactMap { $0.map { [1] + $0 } }
            + [unsealed, controlled].compactMap { $0.map { [0] + $0 } }
    }

    static func srtp() -> [[UInt8]] {
        var inputs: [[UInt8]] = []
        for selector: UInt8 in 0..<8 {
            let profile = SRTPFuzz.profile(selector)
            guard let outbound = SRTPFuzz.session(profile, .outbound) else { continue }
            let plain = selector & 2 == 0 ? rtp()[Int(selector) % 4] : rtcp()[Int(selector) % 8]
            var buffer = plain + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
            let length = buffer.withUnsafeMutableBytes { raw in
                try? (selector & 2 == 0 ? outbound.protectRTP(raw, length: plain.count) : outbound.protectRTCP(raw, length: plain.count))
            }
            if let length { inputs.append([selector] + buffer.prefix(length)) }
        }
        return inputs
    }

    static func dtls() -> [[UInt8]] {
        guard let setup = DTLSFuzz.setup,
            let client = try? DTLSEndpoint(role: .client, context: setup.client, remoteFingerprint: setup.serverFingerprint)
        else { return [] }
        client.start(now: DTLSFuzz.now)
        var flight: [UInt8] = []
        while let datagram = client.pollDatagram() {
            flight += [UInt8(datagram.count >> 8), UInt8(datagram.count & 0xFF)] + datagram
        }
        // A DTLS 1.2 application-data record and an alert, for the established server.
        let appData: [UInt8] = [23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 1, 0, 8] + Array(repeating: 0x42, count: 8)
        let alert: [UInt8] = [21, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 2, 0, 2, 1, 0]
        return [[0] + flight, [1] + flight,
                [1, 0, UInt8(appData.count)] + appData, [1, 0, UInt8(alert.count)] + alert]
    }

    static func camera() -> [[UInt8]] {
        // Line heads: low 3 bits pick the sender (0 cart, 1 expert A, 2 expert B, 3 observer) or
        // an action (4 tick, 5 leave, 6 rejoin, 7 stop all); the high bits move the clock.
        func line(_ head: UInt8, _ json: String) -> [UInt8] { [head] + Array(json.utf8) + [0x0A] }
        let script1 = [0] + line(1, #"{"type":"floorRequest","requestId":"f1","cameraId":"main"}"#)
            + line(1, #"{"type":"cameraCommand","requestId":"m1","cameraId":"main","command":{"kind":"move","pan":0.5,"tilt":-0.2,"zoom":0}}"#)
            + line(0x0C, "")
            + line(1, #"{"type":"cameraCommand","requestId":"m2","cameraId":"main","command":{"kind":"absolute","pan":10,"tilt":5,"zoom":2}}"#)
            + line(0, #"{"type":"cameraAck","cameraId":"main","commandId":"m2","result":"done"}"#)
            + line(2, #"{"type":"floorRequest","requestId":"f2","cameraId":"main"}"#)
            + line(1, #"{"type":"floorRelease","requestId":"f3","cameraId":"main"}"#)
            + line(7, "")
        let script2 = [1] + line(1, #"{"type":"floorRequest","requestId":"f1","cameraId":"main"}"#)
            + line(0, #"{"type":"floorGrant","requestId":"g1","cameraId":"main","participantId":"expertA"}"#)
            + line(1, #"{"type":"cameraCommand","requestId":"m1","cameraId":"main","command":{"kind":"presetGoto","preset":2}}"#)
            + line(0, #"{"type":"floorRevoke","requestId":"r1","cameraId":"main"}"#)
            + line(0x0D, "")
            + line(3, #"{"type":"floorRequest","requestId":"f9","cameraId":"aux"}"#)
        return [script1, script2]
    }
}
