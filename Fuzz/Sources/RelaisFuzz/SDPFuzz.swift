import RelaisWire

/// SDP (RFC 8866) from a peer: the parser, then every typed accessor the relay's negotiation reads
/// (the checks of attribute values live there), then serialization, which must parse again.
enum SDPFuzz {
    static func run(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        guard let description = try? SessionDescription(parsing: text) else { return }
        consume(read(description))
        let again = try? SessionDescription(parsing: description.serialize())
        precondition(again != nil, "a parsed SDP serializes to text the parser refuses")
    }

    static func read(_ description: SessionDescription) -> Int {
        var sink = 0
        for media in description.media {
            sink &+= description.iceUfrag(for: media)?.utf8.count ?? 0
            sink &+= description.icePassword(for: media)?.utf8.count ?? 0
            sink &+= (try? description.fingerprint(for: media)) == nil ? 0 : 1
            sink &+= (try? description.setup(for: media)) == nil ? 0 : 1
            sink &+= media.mid?.utf8.count ?? 0
            sink &+= media.isRTP ? 1 : 0
            sink &+= media.payloadTypes.count
            sink &+= media.direction.rawValue.utf8.count
            if let maps = try? media.rtpMaps() { sink &+= maps.map(\.sdpValue.utf8.count).reduce(0, &+) }
            if let fmtp = try? media.formatParameters() { sink &+= fmtp.map(\.values.count).reduce(0, &+) }
            if let feedback = try? media.rtcpFeedback() { sink &+= feedback.map(\.sdpValue.utf8.count).reduce(0, &+) }
            if let codecs = try? media.codecs() {
                for codec in codecs { sink &+= Int(codec.associatedPayloadType ?? 0) &+ codec.name.utf8.count }
            }
            if let extensions = try? media.extensionMaps() { sink &+= extensions.map(\.sdpValue.utf8.count).reduce(0, &+) }
            if let ssrcs = try? media.ssrcAttributes() { sink &+= ssrcs.map(\.sdpValue.utf8.count).reduce(0, &+) }
            if let groups = try? media.ssrcGroups() { sink &+= groups.map(\.sdpValue.utf8.count).reduce(0, &+) }
            if let announced = try? media.announcedSSRCs() { sink &+= announced.count }
            if let msid = try? media.msid() { sink &+= msid.stream.utf8.count }
            if let rids = try? media.rids() { sink &+= rids.map(\.payloadTypes.count).reduce(0, &+) }
            if let simulcast = try? media.simulcast() { sink &+= simulcast.send.count }
            if let candidates = try? media.candidates() { sink &+= candidates.map(\.sdpValue.utf8.count).reduce(0, &+) }
        }
        return sink
    }
}
