import RelaisWire

/// The echo room's media logic for one participant: the pre-consultation equipment test.
///
/// A cart sends its camera and microphone and gets them back through the full relay path
/// (unprotect, rewrite, protect), so it sees exactly what an expert would see through the relay.
/// Media returns under the SSRCs the answer declared; feedback about those SSRCs (NACK, PLI, FIR)
/// is turned into feedback about the sender's own streams, so the sender's encoder and
/// retransmission logic work as in a real consultation.
package final class EchoSession {
    enum Kind { case audio, video }

    /// The SSRCs the answer declares for media sent back.
    let videoSSRC: UInt32
    let audioSSRC: UInt32
    /// The sender's SSRCs, learned from the first packet of each kind.
    private(set) var peerVideoSSRC: UInt32?
    private(set) var peerAudioSSRC: UInt32?
    /// Payload type to kind, indexed by PT (0...127); nil for payload types not negotiated.
    private var kinds: [Kind?]

    private(set) var rtpEchoed = 0
    private(set) var feedbackTranslated = 0
    /// The test's slot under the server's cap on concurrent echo tests; freed with the session,
    /// that is when its transport is removed (nil in unit tests).
    var lease: EchoCapacity.Lease?

    init(videoSSRC: UInt32, audioSSRC: UInt32, videoPayloadTypes: [UInt8], audioPayloadTypes: [UInt8]) {
        self.videoSSRC = videoSSRC
        self.audioSSRC = audioSSRC
        var kinds = [Kind?](repeating: nil, count: 128)
        for pt in videoPayloadTypes where pt < 128 { kinds[Int(pt)] = .video }
        for pt in audioPayloadTypes where pt < 128 { kinds[Int(pt)] = .audio }
        self.kinds = kinds
    }

    enum RTPAction: Equatable {
        case drop
        case echo
        /// Echo, and ask the sender for a keyframe first: a new video stream started.
        case echoAfterKeyframeRequest
    }

    /// Rewrites the SSRC of a decrypted RTP packet in place to the declared one.
    func rewriteRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> RTPAction {
        guard length >= RTPPacketView.fixedHeaderLength else { return .drop }
        let bytes = UnsafeRawBufferPointer(buffer)
        guard let kind = kinds[Int(bytes[1] & 0x7F)] else { return .drop }
        let ssrc = bytes.u32(at: 8)
        var action = RTPAction.echo
        switch kind {
        case .video:
            if peerVideoSSRC != ssrc {
                peerVideoSSRC = ssrc
                action = .echoAfterKeyframeRequest
            }
            buffer.setU32(videoSSRC, at: 8)
        case .audio:
            peerAudioSSRC = ssrc
            buffer.setU32(audioSSRC, at: 8)
        }
        rtpEchoed += 1
        return action
    }

    /// The sender's SSRC for one of the declared SSRCs (or the reverse), for feedback translation.
    private func mirror(_ ssrc: UInt32) -> UInt32? {
        switch ssrc {
        case videoSSRC: return peerVideoSSRC
        case audioSSRC: return peerAudioSSRC
        case peerVideoSSRC: return videoSSRC
        case peerAudioSSRC: return audioSSRC
        default: return nil
        }
    }

    /// Translates a decrypted RTCP compound from the sender into the compound to send back.
    ///
    /// Keeps the sender report (as a report about the echoed stream, which keeps RTP timestamps, so
    /// lip sync holds), and NACK, PLI and FIR about echoed streams (turned into requests about the
    /// sender's own streams); drops receiver reports, SDES, BYE, APP and congestion feedback, which
    /// describe the sender's own view. Writes into `output`; returns the length (0: nothing to send).
    func translateRTCP(_ input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) -> Int {
        var writer = ByteWriter(output)
        // RFC 3550 §6.1: a compound starts with SR or RR. Use the sender's SR if it has one.
        var cursor = RTCPCompoundIterator(input)
        var wroteReport = false
        // A packet that lies about its length ends the walk; what came before it is still used.
        while let packet = try? cursor.next() {
            guard let sr = try? SenderReportView(packet), let mirrored = mirror(sr.ssrc.rawValue) else { continue }
            // Sender info only: drop report blocks (they describe streams the sender receives).
            let report = SenderReport(
                ssrc: SSRC(mirrored), ntpTimestamp: sr.ntpTimestamp, rtpTimestamp: sr.rtpTimestamp,
                packetCount: sr.packetCount, octetCount: sr.octetCount)
            guard (try? report.serialize(into: &writer)) != nil else { return 0 }
            wroteReport = true
        }
        let reportEnd = writer.position
        cursor = RTCPCompoundIterator(input)
        while let packet = try? cursor.next() {
            let isNACK = packet.packetType == RTCPPacketType.transportFeedback && packet.format == RTCPFeedbackFormat.genericNACK
            let isPLI = packet.packetType == RTCPPacketType.payloadSpecificFeedback && packet.format == RTCPFeedbackFormat.pictureLossIndication
            let isFIR = packet.packetType == RTCPPacketType.payloadSpecificFeedback && packet.format == RTCPFeedbackFormat.fullIntraRequest
            guard isNACK || isPLI || isFIR, packet.byteLength >= 12 else { continue }
            let start = writer.position
            guard (try? writer.write(bytes: packet.bytes)) != nil else { return 0 }
            if isFIR {
                // FIR carries the target SSRCs in its FCI entries (RFC 5104 §4.3.1.1): entries about
                // streams we echo are translated and kept, others dropped (they would name a stream of
                // the sender's that nobody asked about); a FIR left with no entry is dropped.
                var kept = start + 12
                var entry = start + 12
                while entry + 8 <= start + packet.byteLength {
                    if let m = mirror(UnsafeRawBufferPointer(output).u32(at: entry)) {
                        if kept != entry {
                            UnsafeMutableRawBufferPointer(rebasing: output[kept..<(kept + 8)]).copyMemory(
                                from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(output)[entry..<(entry + 8)]))
                        }
                        output.setU32(m, at: kept)
                        kept += 8
                    }
                    entry += 8
                }
                guard kept > start + 12 else {
                    writer = ByteWriter(output, position: start)  // about no stream we echo: drop it
                    continue
                }
                output.setU16(UInt16(clamping: (kept - start) / 4 - 1), at: start + 2)  // length in words minus one (RFC 3550 §6.4.1)
                writer = ByteWriter(output, position: kept)
            } else if let m = mirror(UnsafeRawBufferPointer(output).u32(at: start + 8)) {
                output.setU32(m, at: start + 8)
            } else {
                writer = ByteWriter(output, position: start)  // about no stream we echo: drop it
                continue
            }
            feedbackTranslated += 1
        }
        if writer.position == reportEnd, !wroteReport { return 0 }  // nothing worth sending
        if !wroteReport {
            // Prefix an empty RR from the echoed video stream so the compound is well-formed.
            let body = writer.position
            guard body + 8 <= output.count else { return 0 }
            UnsafeMutableRawBufferPointer(rebasing: output[8..<(body + 8)]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(output)[0..<body]))
            output[0] = 0x80
            output[1] = 201
            output.setU16(1, at: 2)
            output.setU32(videoSSRC, at: 4)
            return body + 8
        }
        return writer.position
    }

    /// A PLI (RFC 4585 §6.3.1) asking the sender for a keyframe of its video; 0 if unknown yet.
    func buildKeyframeRequest(into output: UnsafeMutableRawBufferPointer) -> Int {
        guard let peerVideoSSRC, output.count >= 20 else { return 0 }
        // Empty RR first (compound rule), then the PLI.
        output[0] = 0x80; output[1] = 201; output.setU16(1, at: 2); output.setU32(videoSSRC, at: 4)
        output[8] = 0x81; output[9] = 206; output.setU16(2, at: 10)
        output.setU32(videoSSRC, at: 12)
        output.setU32(peerVideoSSRC, at: 16)
        return 20
    }
}
