public import RelaisSignaling
public import RelaisTransport
public import RelaisWire

/// One published media section the relay accepted: what it forwards and how to recognise it.
public struct PublishedSection: Sendable, Equatable {
    public var mid: String
    public var kind: MediaKind
    public var codec: SDPCodec
    /// SSRC the publisher announced (a=ssrc), if any; otherwise learnt from the mid extension.
    public var ssrc: UInt32?
    /// Header extensions kept in the answer (mid, abs-send-time, audio level, transport-wide
    /// sequence number, and for simulcast the RID).
    public var extensions: [ExtensionMap]
    /// Simulcast layers (RFC 8853) the answer accepts, by RID, in the offer's `a=simulcast` order;
    /// empty for a single-stream track. Each layer's SSRC is learnt from the RID header extension.
    public var rids: [String]
    /// The RTX format (RFC 4588) answered for `codec`, when the publisher offered one: its
    /// retransmissions then come on a repair SSRC, which the relay maps back to the original.
    public var repair: SDPCodec?
    /// The repair SSRC of a single-stream section (`a=ssrc-group:FID <ssrc> <repair>`); simulcast
    /// layers name theirs with the repaired-RID extension.
    public var repairSSRC: UInt32?

    public init(
        mid: String, kind: MediaKind, codec: SDPCodec, ssrc: UInt32?, extensions: [ExtensionMap], rids: [String] = [],
        repair: SDPCodec? = nil, repairSSRC: UInt32? = nil
    ) {
        self.mid = mid
        self.kind = kind
        self.codec = codec
        self.ssrc = ssrc
        self.extensions = extensions
        self.rids = rids
        self.repair = repair
        self.repairSSRC = repairSSRC
    }

    /// The publisher's id for the repaired-RID header extension (RFC 8852 §3.2), for a simulcast
    /// section with RTX.
    public var repairedRIDExtensionID: UInt8? { extensions.first { $0.uri == RTPExtensionURI.repairedRid }?.id }

    /// The publisher's id for the RID header extension (RFC 8852), for a simulcast section.
    public var ridExtensionID: UInt8? { extensions.first { $0.uri == RTPExtensionURI.rid }?.id }

    /// The codec's name as the signaling protocol spells it (`opus`, `VP8`, `H264`, `VP9`), whatever
    /// case the publisher's rtpmap used (encoding names are case-insensitive, RFC 4855 §3; webrtcbin
    /// writes `OPUS`).
    public var codecName: String {
        (RoomNegotiation.videoCodecs + RoomNegotiation.audioCodecs).first { $0.caseInsensitiveCompare(codec.name) == .orderedSame } ?? codec.name
    }

    /// The codec's RTP clock rate; `acceptedSections` only accepts 90000 or 48000, and the
    /// conversion saturates rather than trap for a section built by other code.
    public var clockRate: UInt32 { UInt32(clamping: codec.rtpMap.clockRate) }
}

/// A header extension's id in the publisher's packets and in what a subscriber negotiated.
public struct ExtensionIDMapping: Sendable, Equatable {
    public var publisher: UInt8
    public var subscriber: UInt8

    public init(publisher: UInt8, subscriber: UInt8) {
        self.publisher = publisher
        self.subscriber = subscriber
    }
}

/// What a subscriber receives of one track, as negotiated in the subscribe offer it answered.
public struct Subscription: Sendable, Equatable {
    public var trackID: String
    public var outputSSRC: UInt32
    public var payloadType: UInt8
    public var extensions: [ExtensionIDMapping]

    public init(trackID: String, outputSSRC: UInt32, payloadType: UInt8, extensions: [ExtensionIDMapping] = []) {
        self.trackID = trackID
        self.outputSSRC = outputSSRC
        self.payloadType = payloadType
        self.extensions = extensions
    }
}

/// SDP for rooms: answers to publish offers and the relay's subscribe offers (JSEP, RFC 8829).
///
/// The relay bundles everything on one transport with rtcp-mux, keeps one codec per section (the
/// peer's first one the relay forwards), and offers only the feedback it honours: NACK (answered
/// from the retransmission cache), PLI and FIR (throttled towards the publisher), and to publishers
/// transport-wide congestion feedback (TWCC) when they send the transport-wide sequence number.
public enum RoomNegotiation {
    public static let videoCodecs = ["VP8", "H264", "VP9"]
    public static let audioCodecs = ["opus"]
    public static let feedback: Set<String> = ["nack", "nack pli", "ccm fir"]
    /// Feedback answered to a publisher whose section keeps the transport-wide sequence number
    /// extension: the relay then sends it transport-wide congestion feedback (TWCC).
    public static let publishFeedback: Set<String> = feedback.union(["transport-cc"])
    /// Extensions the relay reads from publishers; everything else is neutralised on forwarding.
    public static let publishExtensions: Set<String> = [
        RTPExtensionURI.mid, RTPExtensionURI.absSendTime, RTPExtensionURI.audioLevel, RTPExtensionURI.transportWideCC,
        RTPExtensionURI.rid, RTPExtensionURI.repairedRid,
    ]
    /// Simulcast layers accepted per video section (Chromium and Firefox offer three); further
    /// streams of an `a=simulcast` list are left out of the answer, so the publisher does not send them.
    public static let maxSimulcastLayers = 4
    /// Longest RID the relay accepts (RFC 8851 allows more; browsers use one or two characters).
    public static let maxRIDLength = 16

    // MARK: Limits

    /// Per-publisher caps on what one publish offer may declare. Each offer replaces the
    /// publisher's tracks, so a cap per offer is a cap per publisher. A telemedicine cart publishes
    /// a camera or two, a microphone and perhaps a screen: the defaults leave room for that twice.
    public struct Limits: Sendable, Equatable {
        /// m-sections in one publish offer (accepted or rejected). Default 16.
        public var maxMediaSections: Int
        /// Sections the relay accepts as tracks from one publisher. Default 8.
        public var maxTracks: Int
        /// Distinct SSRCs one publisher announces across its offer (media, RTX, FEC). Default 16.
        public var maxSSRCs: Int

        public init(maxMediaSections: Int = 16, maxTracks: Int = 8, maxSSRCs: Int = 16) {
            self.maxMediaSections = maxMediaSections
            self.maxTracks = maxTracks
            self.maxSSRCs = maxSSRCs
        }

        public static let `default` = Limits()
    }

    /// Longest `a=fmtp` parameter list the relay copies into subscribers' offers; real ones (H.264
    /// profile-level-id and friends, Opus options) are under 150 bytes.
    public static let maxFormatParametersBytes = 512

    /// Clock rates the payload formats fix (RFC 7741 §6.1 VP8, RFC 6184 §8.1 H.264, RFC 9628 §6 VP9:
    /// 90000; RFC 7587 §7 Opus: 48000/2); the relay computes with them, so no other value is taken.
    static func expectedClockRate(_ kind: MediaKind) -> Int { kind == .video ? 90_000 : 48_000 }

    // MARK: Entry points (pure: SDP text in, decision or typed error out)

    /// Everything the relay decided about a publish offer before touching any state.
    public struct PublishNegotiation: Sendable, Equatable {
        public var offer: SessionDescription
        public var remote: SDPTransportAttributes
        /// One entry per offered m-section: the accepted track, or nil (port 0 in the answer).
        public var accepted: [PublishedSection?]

        public var sections: [PublishedSection] { accepted.compactMap { $0 } }
        /// The publisher's id for the mid header extension (RFC 8843 §15.2), if it sends one.
        public var midExtensionID: UInt8? { sections.lazy.flatMap(\.extensions).first { $0.uri == RTPExtensionURI.mid }?.id }
        /// Whether the publisher offers REMB (`goog-remb`) on an accepted codec: the relay can cap it.
        public var offersREMB: Bool {
            sections.contains { $0.codec.feedback.contains { $0.type == "goog-remb" && $0.parameter == nil } }
        }
        /// The publisher's id for the transport-wide sequence number, if it sends one: the relay
        /// then records every packet's arrival and answers with TWCC feedback.
        public var transportCCExtensionID: UInt8? {
            sections.lazy.flatMap(\.extensions).first { $0.uri == RTPExtensionURI.transportWideCC }?.id
        }
    }

    /// Negotiates a publish offer: parses and validates it completely (grammar, caps, values later
    /// copied into subscribers' SDP) and picks what the relay accepts. Refusals are `invalid_sdp`,
    /// or `no_common_codec` when nothing is forwardable; nothing is decided from a partial offer.
    public static func negotiatePublishOffer(_ text: String, limits: Limits = .default) throws(SignalingError) -> PublishNegotiation {
        let offer = try parse(text)
        guard offer.media.count <= limits.maxMediaSections else {
            throw SignalingError(.invalidSDP, "a publish offer has at most \(limits.maxMediaSections) media sections (\(offer.media.count) offered)")
        }
        try checkMids(offer)
        let remote = try transportParameters(of: offer)
        if remote.setup == .passive {
            throw SignalingError(.invalidSDP, "the relay is DTLS server on publish connections; offer a=setup:actpass or active")
        }
        let accepted = try acceptedSections(of: offer)
        let sections = accepted.compactMap { $0 }
        guard !sections.isEmpty else {
            throw SignalingError(.noCommonCodec, "no media section offers Opus, VP8, H.264 (packetization-mode=1) or VP9 to send")
        }
        guard sections.count <= limits.maxTracks else {
            throw SignalingError(.invalidSDP, "a publisher has at most \(limits.maxTracks) tracks (\(sections.count) offered)")
        }
        var ssrcs: Set<UInt32> = []
        for m in offer.media {
            for ssrc in try sdp({ () throws(SDPError) in try m.announcedSSRCs() }) {
                ssrcs.insert(ssrc)
                guard ssrcs.count <= limits.maxSSRCs else {
                    throw SignalingError(.invalidSDP, "a publisher announces at most \(limits.maxSSRCs) SSRCs")
                }
            }
        }
        var primaries: Set<UInt32> = []
        for ssrc in sections.compactMap(\.ssrc) where !primaries.insert(ssrc).inserted {
            throw SignalingError(.invalidSDP, "SSRC \(ssrc) is announced by two sections")
        }
        return PublishNegotiation(offer: offer, remote: remote, accepted: accepted)
    }

    /// `negotiatePublishOffer` and the answer's text in one call, for a given local transport.
    public static func answerPublishOffer(
        _ text: String, local: SDPTransportAttributes.Local, sessionID: UInt64, version: Int, limits: Limits = .default
    ) throws(SignalingError) -> (negotiation: PublishNegotiation, answer: String) {
        let negotiation = try negotiatePublishOffer(text, limits: limits)
        return (negotiation, publishAnswer(negotiation, local: local, sessionID: sessionID, version: version))
    }

    /// What the relay takes from a subscriber's answer to its offer `slots`.
    public struct SubscribeAcceptance: Sendable, Equatable {
        public var remote: SDPTransportAttributes
        /// The offered tracks whose section the subscriber accepted, with its extension ids.
        public var subscriptions: [Subscription]
    }

    /// Accepts a subscriber's answer to the relay's offer of `slots`: validates it completely and
    /// returns the subscriptions it agrees to; refusals are `invalid_sdp` and decide nothing.
    public static func acceptSubscribeAnswer(_ text: String, offered slots: [SubscribeSlot]) throws(SignalingError) -> SubscribeAcceptance {
        let answer = try parse(text)
        // JSEP (RFC 8829 §5.3.1): an answer has exactly the offer's m-sections, in order.
        guard answer.media.count <= slots.count else {
            throw SignalingError(.invalidSDP, "the answer has \(answer.media.count) media sections, the offer \(slots.count)")
        }
        try checkMids(answer)
        let remote = try transportParameters(of: answer)
        if remote.setup == .passive {
            throw SignalingError(.invalidSDP, "the relay is DTLS server; answer a=setup:active")
        }
        var subscriptions: [Subscription] = []
        for slot in slots {
            guard let track = slot.track, let codec = slot.codec,
                  let section = answer.media.first(where: { $0.mid == slot.mid }), !answer.isRejected(section),
                  section.direction != .inactive, section.direction != .sendonly else { continue }
            subscriptions.append(Subscription(
                trackID: track.trackId, outputSSRC: slot.ssrc, payloadType: codec.payloadType,
                extensions: try extensionMapping(slot: slot, answered: section)))
        }
        return SubscribeAcceptance(remote: remote, subscriptions: subscriptions)
    }

    // MARK: Parsing

    /// Parses a peer's SDP and checks every attribute the relay knows, in every section.
    public static func parse(_ text: String) throws(SignalingError) -> SessionDescription {
        do {
            let sdp = try SessionDescription(parsing: text)
            try sdp.checkAttributes()
            return sdp
        } catch {
            throw SignalingError(.invalidSDP, "unparseable SDP: \(error)")
        }
    }

    /// Runs a typed SDP accessor, turning its error into `invalid_sdp`.
    static func sdp<T>(_ body: () throws(SDPError) -> T) throws(SignalingError) -> T {
        do {
            return try body()
        } catch {
            throw SignalingError(.invalidSDP, "\(error)")
        }
    }

    /// Every section's `a=mid` is a valid identification-tag and no two sections share one
    /// (RFC 5888 §4, RFC 8843 §9.1): mids name tracks that other participants see.
    static func checkMids(_ sdp: SessionDescription) throws(SignalingError) {
        var seen: Set<String> = []
        for m in sdp.media {
            guard let mid = try Self.sdp({ () throws(SDPError) in try m.validatedMid() }) else { continue }
            guard seen.insert(mid).inserted else { throw SignalingError(.invalidSDP, "two media sections have a=mid:\(mid)") }
        }
    }

    /// ICE credentials, fingerprint and setup role of the peer's SDP (`SDPTransportAttributes`).
    public static func transportParameters(of sdp: SessionDescription) throws(SignalingError) -> SDPTransportAttributes {
        do {
            return try SDPTransportAttributes(reading: sdp)
        } catch {
            throw SignalingError(.invalidSDP, error.description)
        }
    }

    /// The relay's side of a transport: an RFC 8445 ICE-lite agent (`a=ice-options:ice2`).
    public static func local(credentials: ICECredentials, fingerprint: DTLSFingerprint, address: TransportAddress) -> SDPTransportAttributes.Local {
        SDPTransportAttributes.Local(credentials: credentials, fingerprint: fingerprint, address: address, iceOptions: "ice2")
    }

    /// The sections of a publish offer the relay accepts (nil: rejected, port 0 in the answer).
    /// Everything an accepted section carries into subscribers' offers is checked here: the mid,
    /// the codec's name, clock rate and fmtp, the header extensions' ids.
    public static func acceptedSections(of offer: SessionDescription) throws(SignalingError) -> [PublishedSection?] {
        var result: [PublishedSection?] = []
        for m in offer.media {
            let mid = try sdp { () throws(SDPError) in try m.validatedMid() }
            guard !offer.isRejected(m), m.proto.contains("SAVPF"), let mid,
                  let kind = MediaKind(rawValue: m.kind),
                  m.direction == .sendonly || m.direction == .sendrecv
            else {
                result.append(nil)
                continue
            }
            let codecs = try sdp { () throws(SDPError) in try m.codecs() }
            let names = kind == .video ? videoCodecs : audioCodecs
            let codec = codecs.first { c in
                guard names.contains(where: { $0.caseInsensitiveCompare(c.name) == .orderedSame }) else { return false }
                // H.264 is forwarded in packetization mode 1 only (RFC 6184 §5.8: non-interleaved).
                if c.name.caseInsensitiveCompare("H264") == .orderedSame {
                    return c.parameters?.values["packetization-mode"] == "1"
                }
                return true
            }
            guard let codec else {
                result.append(nil)
                continue
            }
            guard m.hasAttribute("rtcp-mux") else { throw SignalingError(.invalidSDP, "section \(mid) lacks a=rtcp-mux") }
            guard codec.rtpMap.clockRate == expectedClockRate(kind), kind == .video || codec.rtpMap.channels == 2 else {
                throw SignalingError(.invalidSDP, "section \(mid): \(codec.name) must be \(expectedClockRate(kind))\(kind == .audio ? "/2" : "") (a=rtpmap:\(codec.rtpMap.sdpValue))")
            }
            if let parameters = codec.parameters?.parameters {
                guard parameters.utf8.count <= maxFormatParametersBytes, SDPGrammar.isVisibleText(parameters) else {
                    throw SignalingError(.invalidSDP, "section \(mid): a=fmtp parameters must be at most \(maxFormatParametersBytes) printable ASCII bytes")
                }
            }
            // One-byte header extension ids (RFC 8285 §4.2: 1-14) the relay reads; each id once.
            var extensions = try sdp { () throws(SDPError) in try m.extensionMaps() }.filter { publishExtensions.contains($0.uri) && $0.id < 15 }
            guard Set(extensions.map(\.id)).count == extensions.count else {
                throw SignalingError(.invalidSDP, "section \(mid): two a=extmap share an id")
            }
            let rids = try simulcastLayers(of: m, mid: mid, kind: kind, extensions: extensions)
            // RTX (RFC 4588 §8.6): the `rtx` format whose apt names the kept codec, at its clock rate.
            let repair = kind == .video
                ? codecs.first { $0.name.caseInsensitiveCompare("rtx") == .orderedSame && $0.associatedPayloadType == codec.payloadType
                    && $0.rtpMap.clockRate == codec.rtpMap.clockRate }
                : nil
            // The RID extensions matter only to tell simulcast layers (and their repair streams) apart.
            if rids.isEmpty { extensions.removeAll { $0.uri == RTPExtensionURI.rid } }
            if rids.isEmpty || repair == nil { extensions.removeAll { $0.uri == RTPExtensionURI.repairedRid } }
            // A simulcast section's SSRCs are learnt per layer from the RID; an announced one names no layer.
            let ssrc = rids.isEmpty ? try sdp { () throws(SDPError) in try primarySSRC(of: m) } : nil
            let repairSSRC = try repair == nil || ssrc == nil ? nil : sdp { () throws(SDPError) in
                try m.ssrcGroups().first { $0.semantics == "FID" && $0.ssrcs.first == ssrc }?.ssrcs.dropFirst().first
            }
            result.append(PublishedSection(
                mid: mid, kind: kind, codec: codec, ssrc: ssrc, extensions: extensions, rids: rids,
                repair: repair.map { SDPCodec(rtpMap: $0.rtpMap, parameters: FormatParameters(payloadType: $0.payloadType, parameters: "apt=\(codec.payloadType)"), feedback: []) },
                repairSSRC: repairSSRC))
        }
        return result
    }

    /// The simulcast layers the relay accepts in a video section (RFC 8853 §5.1): the first
    /// alternative of each stream of `a=simulcast:send`, each declared by an `a=rid:<id> send`
    /// (RFC 8851), at most `maxSimulcastLayers`. Without the RID header extension the layers could
    /// not be told apart, so the section is then answered without simulcast (RFC 8853 §5.3: the
    /// publisher sends one stream). Empty for a section without simulcast.
    static func simulcastLayers(of m: MediaDescription, mid: String, kind: MediaKind, extensions: [ExtensionMap]) throws(SignalingError) -> [String] {
        guard let simulcast = try sdp({ () throws(SDPError) in try m.simulcast() }), !simulcast.send.isEmpty else { return [] }
        guard kind == .video, extensions.contains(where: { $0.uri == RTPExtensionURI.rid }) else { return [] }
        let declared = try sdp { () throws(SDPError) in try m.rids() }
        var rids: [String] = []
        for stream in simulcast.send {
            guard let rid = stream.first?.rid else { continue }
            guard rid.utf8.count <= maxRIDLength else {
                throw SignalingError(.invalidSDP, "section \(mid): a RID has at most \(maxRIDLength) characters")
            }
            guard declared.contains(where: { $0.id == rid && $0.direction == "send" }) else {
                throw SignalingError(.invalidSDP, "section \(mid): a=simulcast names \(rid), which no a=rid:\(rid) send declares")
            }
            guard !rids.contains(rid) else { throw SignalingError(.invalidSDP, "section \(mid): a=simulcast names \(rid) twice") }
            rids.append(rid)
        }
        return Array(rids.prefix(maxSimulcastLayers))
    }

    /// The media SSRC of a section: the first announced one that is not a repair stream (FID group).
    public static func primarySSRC(of m: MediaDescription) throws(SDPError) -> UInt32? {
        var repair: Set<UInt32> = []
        for group in try m.ssrcGroups() where group.semantics == "FID" {
            if let second = group.ssrcs.dropFirst().first { repair.insert(second) }
        }
        return try m.announcedSSRCs().first { !repair.contains($0) }
    }

    // MARK: Writing

    static func sessionHeader(_ local: SDPTransportAttributes.Local, sessionID: UInt64, version: Int, name: String) -> SessionDescription {
        var sdp = local.sessionHeader(username: "relais", sessionID: sessionID, version: version, name: name)
        sdp.addAttribute("ice-lite")
        return sdp
    }

    static func addCodec(_ m: inout MediaDescription, _ codec: SDPCodec, feedback honoured: Set<String> = feedback) {
        m.addAttribute("rtpmap", codec.rtpMap.sdpValue)
        if let parameters = codec.parameters { m.addAttribute("fmtp", "\(codec.payloadType) \(parameters.parameters)") }
        for fb in codec.feedback {
            let key = fb.type + (fb.parameter.map { " \($0)" } ?? "")
            if honoured.contains(key) {
                m.addAttribute("rtcp-fb", RTCPFeedbackAttribute(payloadType: codec.payloadType, type: fb.type, parameter: fb.parameter).sdpValue)
            }
        }
    }

    /// The answer to a negotiated publish offer; with `remb`, `goog-remb` is answered where offered
    /// (the relay then sends the publisher its bitrate ceiling).
    public static func publishAnswer(
        _ negotiation: PublishNegotiation, local: SDPTransportAttributes.Local, sessionID: UInt64, version: Int, remb: Bool = false
    ) -> String {
        publishAnswer(offer: negotiation.offer, accepted: negotiation.accepted, local: local, sessionID: sessionID, version: version, remb: remb)
    }

    /// The answer to a publish offer: accepted sections `recvonly` with one codec each.
    public static func publishAnswer(
        offer: SessionDescription, accepted: [PublishedSection?], local: SDPTransportAttributes.Local, sessionID: UInt64, version: Int,
        remb: Bool = false
    ) -> String {
        var answer = sessionHeader(local, sessionID: sessionID, version: version, name: "relais publish")
        answer.addAttribute("group", (["BUNDLE"] + accepted.compactMap { $0?.mid }).joined(separator: " "))
        for (offered, section) in zip(offer.media, accepted) {
            guard let section else {
                var rejected = MediaDescription(kind: offered.kind, port: 0, proto: offered.proto, formats: offered.formats)
                if let mid = offered.mid { rejected.addAttribute("mid", mid) }
                rejected.addAttribute("inactive")
                answer.media.append(rejected)
                continue
            }
            let formats = [section.codec.payloadType] + (section.repair.map { [$0.payloadType] } ?? [])
            var m = MediaDescription(kind: offered.kind, port: 9, proto: offered.proto, formats: formats.map(String.init))
            local.write(into: &m, setup: .passive)
            m.addAttribute("mid", section.mid)
            m.addAttribute("recvonly")
            m.addAttribute("rtcp-mux")
            if offered.hasAttribute("rtcp-rsize") { m.addAttribute("rtcp-rsize") }
            for ext in section.extensions { m.addAttribute("extmap", ExtensionMap(id: ext.id, uri: ext.uri).sdpValue) }
            let transportCC = section.extensions.contains { $0.uri == RTPExtensionURI.transportWideCC }
            var honoured = transportCC ? publishFeedback : feedback
            if remb { honoured.insert("goog-remb") }
            addCodec(&m, section.codec, feedback: honoured)
            if let repair = section.repair { addCodec(&m, repair) }
            if !section.rids.isEmpty {
                // RFC 8853 §5.3: the answer receives the layers it accepts, named by their RIDs.
                for rid in section.rids { m.addAttribute("rid", "\(rid) recv") }
                m.addAttribute("simulcast", "recv " + section.rids.joined(separator: ";"))
            }
            local.writeCandidates(into: &m)
            answer.media.append(m)
        }
        return answer.serialize()
    }

    /// One m-line of a subscribe offer: a remote track, or a free slot (`inactive`) kept so mids
    /// are never reused with another meaning.
    public struct SubscribeSlot: Sendable, Equatable {
        public var mid: String
        public var kind: MediaKind
        public var track: Track?
        public var codec: SDPCodec?
        public var ssrc: UInt32
        /// msid stream: the publisher, so its audio and video are lip-synced (RFC 8830).
        public var stream: String
        /// The header extensions the publisher sends on this track (its ids).
        public var publisherExtensions: [ExtensionMap]

        public init(mid: String, kind: MediaKind, track: Track?, codec: SDPCodec?, ssrc: UInt32, stream: String, publisherExtensions: [ExtensionMap] = []) {
            self.mid = mid
            self.kind = kind
            self.track = track
            self.codec = codec
            self.ssrc = ssrc
            self.stream = stream
            self.publisherExtensions = publisherExtensions
        }

        /// Extensions offered to the subscriber: those the relay forwards and the publisher sends.
        public var offeredExtensions: [ExtensionMap] {
            RoomNegotiation.forwardedExtensions.filter { offered in publisherExtensions.contains { $0.uri == offered.uri } }
        }
    }

    /// Header extensions forwarded to subscribers, with the ids the relay offers them (RFC 8285):
    /// the audio level, so a receiver can show who speaks without decoding. Everything else the
    /// publisher sends is rewritten to an id the subscriber did not negotiate, which it ignores.
    public static let forwardedExtensions = [ExtensionMap(id: 1, uri: RTPExtensionURI.audioLevel)]

    /// Publisher id -> subscriber id, for the extensions the subscriber's answer kept.
    public static func extensionMapping(slot: SubscribeSlot, answered section: MediaDescription) throws(SignalingError) -> [ExtensionIDMapping] {
        let answered = try sdp { () throws(SDPError) in try section.extensionMaps() }
        return slot.publisherExtensions.compactMap { published in
            guard slot.offeredExtensions.contains(where: { $0.uri == published.uri }),
                  let kept = answered.first(where: { $0.uri == published.uri }), (1...13).contains(kept.id) else { return nil }
            return ExtensionIDMapping(publisher: published.id, subscriber: kept.id)
        }
    }

    public static func subscribeOffer(slots: [SubscribeSlot], local: SDPTransportAttributes.Local, sessionID: UInt64, version: Int) -> String {
        var offer = sessionHeader(local, sessionID: sessionID, version: version, name: "relais subscribe")
        offer.addAttribute("group", (["BUNDLE"] + slots.map(\.mid)).joined(separator: " "))
        offer.addAttribute("msid-semantic", " WMS *")
        for slot in slots {
            let codec = slot.codec ?? placeholderCodec(slot.kind)
            var m = MediaDescription(kind: slot.kind.rawValue, port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: [String(codec.payloadType)])
            local.write(into: &m, setup: .actpass)
            m.addAttribute("mid", slot.mid)
            m.addAttribute("rtcp-mux")
            m.addAttribute("rtcp-rsize")
            addCodec(&m, codec)
            if let track = slot.track {
                for ext in slot.offeredExtensions { m.addAttribute("extmap", ext.sdpValue) }
                m.addAttribute("sendonly")
                m.addAttribute("msid", "\(slot.stream) \(track.trackId)")
                m.addAttribute("ssrc", SSRCAttribute(ssrc: slot.ssrc, name: "cname", value: slot.stream).sdpValue)
                m.addAttribute("ssrc", SSRCAttribute(ssrc: slot.ssrc, name: "msid", value: "\(slot.stream) \(track.trackId)").sdpValue)
            } else {
                m.addAttribute("inactive")
            }
            local.writeCandidates(into: &m)
            offer.media.append(m)
        }
        return offer.serialize()
    }

    public static func placeholderCodec(_ kind: MediaKind) -> SDPCodec {
        kind == .audio
            ? SDPCodec(rtpMap: RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2), parameters: nil, feedback: [])
            : SDPCodec(rtpMap: RTPMap(payloadType: 96, encodingName: "VP8", clockRate: 90000), parameters: nil,
                       feedback: [RTCPFeedbackAttribute(payloadType: 96, type: "nack"), RTCPFeedbackAttribute(payloadType: 96, type: "nack", parameter: "pli")])
    }
}
