import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// The relay's decisions on SDP from participants (RelaisNegotiation, what `Room` and the echo
/// route do with it): a publish offer, a subscriber's answer, an echo offer. A refusal must be a
/// typed error. What the relay writes must be SDP it would itself accept, and what a publisher
/// wrote must not reach a subscriber as a line of its own: the subscribe offer built from an
/// accepted publish offer parses, has one m-section per track, and no control character.
enum NegotiationFuzz {
    static let local = RoomNegotiation.local(
        credentials: ICECredentials(ufrag: "relaisUF", password: "relaisPasswordRelaisPassword"),
        fingerprint: DTLSFingerprint(algorithm: "sha-256", bytes: Array(repeating: 0xAB, count: 32)),
        address: TransportAddress(ip: .v4(0x7F00_0001), port: 40000))

    static let slots = [
        RoomNegotiation.SubscribeSlot(
            mid: "0", kind: .video, track: Track(trackId: "p-1-0", participantId: "p-1", kind: .video, codec: "VP8"),
            codec: RoomNegotiation.placeholderCodec(.video), ssrc: 1111, stream: "p-1",
            publisherExtensions: [ExtensionMap(id: 3, uri: RTPExtensionURI.audioLevel)]),
        RoomNegotiation.SubscribeSlot(
            mid: "1", kind: .audio, track: Track(trackId: "p-1-1", participantId: "p-1", kind: .audio, codec: "opus"),
            codec: RoomNegotiation.placeholderCodec(.audio), ssrc: 2222, stream: "p-1",
            publisherExtensions: [ExtensionMap(id: 1, uri: RTPExtensionURI.audioLevel)]),
        RoomNegotiation.SubscribeSlot(mid: "2", kind: .video, track: nil, codec: nil, ssrc: 3333, stream: "p-2"),
    ]

    static func runPublishOffer(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        guard let (negotiation, answer) = try? RoomNegotiation.answerPublishOffer(text, local: local, sessionID: 1, version: 1) else { return }
        precondition((try? SessionDescription(parsing: answer)) != nil, "the relay's publish answer does not parse")

        // What a subscriber would be offered for these tracks (Room.renegotiate builds the same).
        let forwarded = negotiation.sections.enumerated().map { i, section in
            RoomNegotiation.SubscribeSlot(
                mid: String(i), kind: section.kind,
                track: Track(trackId: "p-1-\(i)", participantId: "p-1", kind: section.kind, codec: section.codec.name),
                codec: section.codec, ssrc: UInt32(1000 + i), stream: "p-1", publisherExtensions: section.extensions)
        }
        let offer = RoomNegotiation.subscribeOffer(slots: forwarded, local: local, sessionID: 2, version: 1)
        precondition(!offer.unicodeScalars.contains { $0.value < 0x20 && $0 != "\r" && $0 != "\n" && $0 != "\t" || $0.value == 0x7F },
                     "a control character from a publish offer reached a subscribe offer")
        let lines = offer.split(separator: "\r\n", omittingEmptySubsequences: false)
        precondition(!lines.contains { $0.contains("\r") || $0.contains("\n") }, "a subscribe offer has a line break inside a line")
        guard let parsed = try? SessionDescription(parsing: offer) else {
            preconditionFailure("the subscribe offer built from an accepted publish offer does not parse")
        }
        precondition(parsed.media.count == forwarded.count, "a publish offer injected m-sections into a subscribe offer")
    }

    static func runSubscribeAnswer(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        guard let acceptance = try? RoomNegotiation.acceptSubscribeAnswer(text, offered: slots) else { return }
        precondition(acceptance.subscriptions.count <= slots.count, "an answer subscribed to more tracks than were offered")
        for subscription in acceptance.subscriptions {
            precondition(slots.contains { $0.track?.trackId == subscription.trackID }, "an answer subscribed to a track never offered")
        }
    }

    static func runEchoOffer(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        guard let plan = try? EchoNegotiation.plan(offer: text, videoSSRC: 1, audioSSRC: 2) else { return }
        let answer = EchoNegotiation.answerSDP(plan, credentials: local.credentials, fingerprint: local.fingerprint,
                                               address: local.address, sessionID: 1)
        precondition((try? SessionDescription(parsing: answer)) != nil, "the relay's echo answer does not parse")
    }

    /// Seeds: the relay's own subscribe offer, a valid shape for an answer to mutate.
    static func subscribeOfferSeed() -> String {
        RoomNegotiation.subscribeOffer(slots: slots, local: local, sessionID: 1, version: 1)
    }
}
