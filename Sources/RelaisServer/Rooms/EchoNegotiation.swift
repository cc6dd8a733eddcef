import RelaisNegotiation
import RelaisTransport
import RelaisWire

/// The echo room's negotiation on the server: the pure decision (`EchoNegotiation.plan`, in
/// RelaisNegotiation) first, then a transport on a media loop, then the answer's text.
extension EchoNegotiation {
    struct Answer: Sendable {
        let sdp: String
        let loop: Int
        let transport: TransportID
    }

    static func answer(offer text: String, media: MediaServer) async throws -> Answer {
        let plan = try plan(offer: text, videoSSRC: UInt32.random(in: 1...UInt32.max), audioSSRC: UInt32.random(in: 1...UInt32.max))
        let loopIndex = media.pickLoop()
        let videoPTs = plan.videoPayloadTypes
        let audioPTs = plan.audioPayloadTypes
        let (videoSSRC, audioSSRC) = (plan.videoSSRC, plan.audioSSRC)
        let (ufrag, fingerprint) = (plan.remoteUfrag, plan.remoteFingerprint)
        let opened = try await media.onLoop(loopIndex) { loop in
            let echo = EchoSession(videoSSRC: videoSSRC, audioSSRC: audioSSRC, videoPayloadTypes: videoPTs, audioPayloadTypes: audioPTs)
            let (id, credentials) = try loop.addTransport(remoteUfrag: ufrag, remoteFingerprint: fingerprint, purpose: .echo(echo))
            return (id, credentials, loop.localAddress)
        }
        let (transportID, credentials, localAddress) = opened
        guard let localAddress else { throw EchoNegotiationError.unacceptable("media_unavailable", "media socket not bound") }
        let sdp = answerSDP(
            plan, credentials: credentials, fingerprint: media.certificate.fingerprintSHA256, address: localAddress,
            sessionID: UInt64.random(in: 1...UInt64(Int64.max)))
        return Answer(sdp: sdp, loop: loopIndex, transport: transportID)
    }
}
