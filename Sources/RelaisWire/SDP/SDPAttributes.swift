/// `a=setup` (RFC 4145 §4, RFC 5763 §5): who starts DTLS.
public enum SDPSetupRole: String, Sendable, Equatable {
    case actpass, active, passive, holdconn
}

/// Media direction attributes (RFC 8866 §6.7).
public enum SDPDirection: String, Sendable, Equatable {
    case sendrecv, sendonly, recvonly, inactive

    /// The direction seen from the other side.
    public var reversed: SDPDirection {
        switch self {
        case .sendonly: .recvonly
        case .recvonly: .sendonly
        default: self
        }
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]` (RFC 8866 §6.6).
public struct RTPMap: Equatable, Sendable {
    public var payloadType: UInt8
    public var encodingName: String
    public var clockRate: Int
    public var channels: Int?

    public init(payloadType: UInt8, encodingName: String, clockRate: Int, channels: Int? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
    }

    public var sdpValue: String {
        "\(payloadType) \(encodingName)/\(clockRate)" + (channels.map { "/\($0)" } ?? "")
    }
}

/// `a=fmtp:<pt> <parameters>` (RFC 8866 §6.15); parameters kept raw and as key/value pairs.
public struct FormatParameters: Equatable, Sendable {
    public var payloadType: UInt8
    public var parameters: String

    public init(payloadType: UInt8, parameters: String) {
        self.payloadType = payloadType
        self.parameters = parameters
    }

    /// `key=value` pairs separated by `;` (values without `=` map to "").
    public var values: [String: String] {
        var out: [String: String] = [:]
        for pair in parameters.split(separator: ";") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard let key = kv.first?.trimmingSpaces, !key.isEmpty else { continue }
            out[key.lowercased()] = kv.count > 1 ? kv[1].trimmingSpaces : ""
        }
        return out
    }
}

/// `a=rtcp-fb:<pt|*> <type> [<parameter>]` (RFC 4585 §4.2).
public struct RTCPFeedbackAttribute: Equatable, Sendable {
    /// nil for `*` (all payload types).
    public var payloadType: UInt8?
    public var type: String
    public var parameter: String?

    public init(payloadType: UInt8?, type: String, parameter: String? = nil) {
        self.payloadType = payloadType
        self.type = type
        self.parameter = parameter
    }

    public var sdpValue: String {
        (payloadType.map(String.init) ?? "*") + " " + type + (parameter.map { " \($0)" } ?? "")
    }
}

/// `a=extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §5).
public struct ExtensionMap: Equatable, Sendable {
    public var id: UInt8
    public var direction: SDPDirection?
    public var uri: String
    public var attributes: String?

    public init(id: UInt8, direction: SDPDirection? = nil, uri: String, attributes: String? = nil) {
        self.id = id
        self.direction = direction
        self.uri = uri
        self.attributes = attributes
    }

    public var sdpValue: String {
        "\(id)" + (direction.map { "/\($0.rawValue)" } ?? "") + " \(uri)" + (attributes.map { " \($0)" } ?? "")
    }
}

/// `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576 §4.1).
public struct SSRCAttribute: Equatable, Sendable {
    public var ssrc: UInt32
    public var name: String
    public var value: String?

    public init(ssrc: UInt32, name: String, value: String? = nil) {
        self.ssrc = ssrc
        self.name = name
        self.value = value
    }

    public var sdpValue: String { "\(ssrc) \(name)" + (value.map { ":\($0)" } ?? "") }
}

/// `a=ssrc-group:<semantics> <ssrc>...` (RFC 5576 §4.2), e.g. FID pairing media with RTX.
public struct SSRCGroup: Equatable, Sendable {
    public var semantics: String
    public var ssrcs: [UInt32]

    public init(semantics: String, ssrcs: [UInt32]) {
        self.semantics = semantics
        self.ssrcs = ssrcs
    }

    public var sdpValue: String { ([semantics] + ssrcs.map(String.init)).joined(separator: " ") }
}

/// `a=msid:<stream id> [<track id>]` (RFC 8830).
public struct MediaStreamID: Equatable, Sendable {
    public var stream: String
    public var track: String?
}

/// `a=rid:<id> <send|recv> [<restrictions>]` (RFC 8851 §10).
public struct RestrictionID: Equatable, Sendable {
    public var id: String
    public var direction: String
    /// `pt=` list and other `key=value` restrictions, in order.
    public var restrictions: [(key: String, value: String)]

    public static func == (a: RestrictionID, b: RestrictionID) -> Bool {
        a.id == b.id && a.direction == b.direction && a.restrictions.map(\.key) == b.restrictions.map(\.key)
            && a.restrictions.map(\.value) == b.restrictions.map(\.value)
    }

    public var payloadTypes: [UInt8] {
        restrictions.first { $0.key == "pt" }.map { $0.value.split(separator: ",").compactMap { UInt8($0) } } ?? []
    }
}

/// `a=simulcast:` (RFC 8853 §5.1): per direction, a list of streams, each a list of alternative rids.
public struct SimulcastDescription: Equatable, Sendable {
    public struct Stream: Equatable, Sendable {
        public var rid: String
        /// `~` prefix: the stream starts paused.
        public var paused: Bool
    }

    public var send: [[Stream]] = []
    public var recv: [[Stream]] = []
}

/// `a=candidate:` (RFC 8839 §5.1).
public struct SDPCandidate: Equatable, Sendable {
    public var foundation: String
    public var component: Int
    public var transport: String
    public var priority: UInt32
    public var address: String
    public var port: UInt16
    public var type: String
    public var relatedAddress: String?
    public var relatedPort: UInt16?
    /// Extension attributes (generation, ufrag, network-id, tcptype...) in order.
    public var extensions: [(key: String, value: String)]

    public static func == (a: SDPCandidate, b: SDPCandidate) -> Bool {
        a.sdpValue == b.sdpValue
    }

    /// Parses the value after `a=` (with or without the leading `candidate:`), as trickle messages
    /// carry it too.
    public init(parsing text: Substring) throws(SDPError) {
        var value = text
        if value.hasPrefix("candidate:") { value = value.dropFirst("candidate:".count) }
        let f = value.split(separator: " ")
        func bad(_ reason: String) -> SDPError { .malformedAttribute(name: "candidate", value: String(text), reason: reason) }
        guard f.count >= 8, f[6] == "typ" else { throw bad("needs foundation, component, transport, priority, address, port, typ, type") }
        guard let component = Int(f[1]), (1...256).contains(component) else { throw bad("component") }
        guard let priority = UInt32(f[3]) else { throw bad("priority") }
        guard let port = UInt16(f[5]) else { throw bad("port") }
        foundation = String(f[0])
        self.component = component
        transport = String(f[2])
        self.priority = priority
        address = String(f[4])
        self.port = port
        type = String(f[7])
        extensions = []
        var i = 8
        while i + 1 < f.count {
            switch f[i] {
            case "raddr": relatedAddress = String(f[i + 1])
            case "rport":
                guard let p = UInt16(f[i + 1]) else { throw bad("rport") }
                relatedPort = p
            default: extensions.append((String(f[i]), String(f[i + 1])))
            }
            i += 2
        }
        guard i == f.count else { throw bad("odd number of extension fields") }
    }

    public var sdpValue: String {
        var s = "candidate:\(foundation) \(component) \(transport) \(priority) \(address) \(port) typ \(type)"
        if let relatedAddress { s += " raddr \(relatedAddress)" }
        if let relatedPort { s += " rport \(relatedPort)" }
        for (k, v) in extensions { s += " \(k) \(v)" }
        return s
    }
}

/// One negotiated codec: rtpmap joined with its fmtp and rtcp-fb lines.
public struct SDPCodec: Equatable, Sendable {
    public var rtpMap: RTPMap
    public var parameters: FormatParameters?
    public var feedback: [RTCPFeedbackAttribute]

    public init(rtpMap: RTPMap, parameters: FormatParameters? = nil, feedback: [RTCPFeedbackAttribute] = []) {
        self.rtpMap = rtpMap
        self.parameters = parameters
        self.feedback = feedback
    }

    public var payloadType: UInt8 { rtpMap.payloadType }
    public var name: String { rtpMap.encodingName }
    /// For RTX (RFC 4588): the payload type it repairs (`apt=`).
    public var associatedPayloadType: UInt8? { parameters?.values["apt"].flatMap { UInt8($0) } }
}

/// Parsers shared by the typed accessors.
enum SDPAttributes {
    /// RFC 8851 §10 rid-id characters: ALPHA / DIGIT / "-" / "_".
    static func isRIDByte(_ b: UInt8) -> Bool {
        (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || b == 0x2D || b == 0x5F
    }

    static func payloadType(_ text: Substring, attribute: String, value: Substring) throws(SDPError) -> UInt8 {
        guard let pt = UInt8(text), pt < 128 else {
            throw .malformedAttribute(name: attribute, value: String(value), reason: "payload type must be 0-127")
        }
        return pt
    }

    static func fingerprint(_ section: some SDPSection) throws(SDPError) -> DTLSFingerprint? {
        guard let value = section.attribute("fingerprint") else { return nil }
        let parts = value.split(separator: " ")
        guard parts.count == 2, let algorithm = parts.first, SDPGrammar.isToken(algorithm), let hex = parts.last,
              let f = DTLSFingerprint(algorithm: String(algorithm), hex: String(hex)) else {
            throw .malformedAttribute(name: "fingerprint", value: String(value), reason: "expected '<hash> XX:XX:...'")
        }
        return f
    }

    static func setup(_ section: some SDPSection) throws(SDPError) -> SDPSetupRole? {
        guard let value = section.attribute("setup") else { return nil }
        guard let role = SDPSetupRole(rawValue: String(value)) else {
            throw .malformedAttribute(name: "setup", value: String(value), reason: "expected actpass, active, passive or holdconn")
        }
        return role
    }
}

extension MediaDescription {
    public func rtpMaps() throws(SDPError) -> [RTPMap] {
        var out: [RTPMap] = []
        for value in attributeValues("rtpmap") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { throw .malformedAttribute(name: "rtpmap", value: String(value), reason: "expected '<pt> <encoding>/<rate>'") }
            let pt = try SDPAttributes.payloadType(parts[0], attribute: "rtpmap", value: value)
            let enc = parts[1].split(separator: "/", omittingEmptySubsequences: false)
            // RFC 8866 §6.6: the encoding name is a token, the clock rate fits the 32-bit RTP clock
            // (RFC 3550 §5.1), channels are a small count; anything else is refused here, so no
            // consumer ever converts an out-of-range rate.
            guard (2...3).contains(enc.count), let name = enc.first, SDPGrammar.isToken(name),
                  let rate = UInt32(enc[1]), rate > 0 else {
                throw .malformedAttribute(name: "rtpmap", value: String(value), reason: "expected '<encoding>/<clock rate 1-4294967295>[/<channels>]'")
            }
            var channels: Int?
            if let channelText = enc.dropFirst(2).first {
                guard let c = UInt8(channelText), c > 0 else { throw .malformedAttribute(name: "rtpmap", value: String(value), reason: "channels must be 1-255") }
                channels = Int(c)
            }
            out.append(RTPMap(payloadType: pt, encodingName: String(name), clockRate: Int(rate), channels: channels))
        }
        return out
    }

    public func formatParameters() throws(SDPError) -> [FormatParameters] {
        var out: [FormatParameters] = []
        for value in attributeValues("fmtp") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let pt = parts.first, let parameters = parts.last else {
                throw .malformedAttribute(name: "fmtp", value: String(value), reason: "expected '<pt> <parameters>'")
            }
            out.append(FormatParameters(payloadType: try SDPAttributes.payloadType(pt, attribute: "fmtp", value: value), parameters: String(parameters)))
        }
        return out
    }

    public func rtcpFeedback() throws(SDPError) -> [RTCPFeedbackAttribute] {
        var out: [RTCPFeedbackAttribute] = []
        for value in attributeValues("rtcp-fb") {
            let parts = value.split(separator: " ")
            guard let ptText = parts.first, let type = parts.dropFirst().first, parts.allSatisfy(SDPGrammar.isToken) else {
                throw .malformedAttribute(name: "rtcp-fb", value: String(value), reason: "expected '<pt> <type> [<parameters>]' in tokens")
            }
            let pt: UInt8? = ptText == "*" ? nil : try SDPAttributes.payloadType(ptText, attribute: "rtcp-fb", value: value)
            let parameter = parts.dropFirst(2)
            out.append(RTCPFeedbackAttribute(payloadType: pt, type: String(type), parameter: parameter.isEmpty ? nil : parameter.joined(separator: " ")))
        }
        return out
    }

    /// Codecs in m= line order, each with its fmtp and rtcp-fb (including `*` feedback).
    public func codecs() throws(SDPError) -> [SDPCodec] {
        let maps = try rtpMaps()
        let fmtps = try formatParameters()
        let feedback = try rtcpFeedback()
        return payloadTypes.compactMap { pt in
            guard let map = maps.first(where: { $0.payloadType == pt }) else { return nil }
            return SDPCodec(
                rtpMap: map, parameters: fmtps.first { $0.payloadType == pt },
                feedback: feedback.filter { $0.payloadType == pt || $0.payloadType == nil })
        }
    }

    public func extensionMaps() throws(SDPError) -> [ExtensionMap] {
        var out: [ExtensionMap] = []
        for value in attributeValues("extmap") {
            let parts = value.split(separator: " ", maxSplits: 2)
            guard let idText = parts.first, let uri = parts.dropFirst().first, SDPGrammar.isVisibleText(uri) else {
                throw .malformedAttribute(name: "extmap", value: String(value), reason: "expected '<id> <uri>'")
            }
            let idParts = idText.split(separator: "/", omittingEmptySubsequences: false)
            // RFC 8285 §5: 1-255 (1-14 in the one-byte form, 15 reserved there; 0 is never an id).
            guard let first = idParts.first, let id = UInt8(first), id >= 1 else {
                throw .malformedAttribute(name: "extmap", value: String(value), reason: "id must be 1-255")
            }
            var direction: SDPDirection?
            if idParts.count == 2, let directionText = idParts.last {
                guard let d = SDPDirection(rawValue: String(directionText)) else {
                    throw .malformedAttribute(name: "extmap", value: String(value), reason: "direction")
                }
                direction = d
            } else if idParts.count > 2 {
                throw .malformedAttribute(name: "extmap", value: String(value), reason: "id")
            }
            out.append(ExtensionMap(id: id, direction: direction, uri: String(uri), attributes: parts.dropFirst(2).first.map(String.init)))
        }
        return out
    }

    /// Distinct SSRCs one section may announce (a=ssrc, a=ssrc-group): a track with RTX and a few
    /// simulcast layers uses at most a handful; more is refused before any set of them grows.
    public static let maxSSRCs = 32
    /// `a=candidate` lines one section may carry (the relay, ICE-lite, reads none but bounds them).
    public static let maxCandidates = 64

    public func ssrcAttributes() throws(SDPError) -> [SSRCAttribute] {
        var out: [SSRCAttribute] = []
        var distinct: Set<UInt32> = []
        for value in attributeValues("ssrc") {
            let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            // RFC 5576 §4.1: `<ssrc-id> <attribute>[:<value>]`, the attribute name a token.
            guard parts.count == 2, let idText = parts.first, let ssrc = UInt32(idText), let rest = parts.last else {
                throw .malformedAttribute(name: "ssrc", value: String(value), reason: "expected '<ssrc> <attribute>[:<value>]'")
            }
            let kv = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = kv.first, SDPGrammar.isToken(name) else {
                throw .malformedAttribute(name: "ssrc", value: String(value), reason: "the attribute name must be a token")
            }
            distinct.insert(ssrc)
            guard distinct.count <= Self.maxSSRCs else { throw .tooManyAttributes(name: "ssrc", limit: Self.maxSSRCs) }
            out.append(SSRCAttribute(ssrc: ssrc, name: String(name), value: kv.count > 1 ? kv.last.map(String.init) : nil))
        }
        return out
    }

    public func ssrcGroups() throws(SDPError) -> [SSRCGroup] {
        var out: [SSRCGroup] = []
        for value in attributeValues("ssrc-group") {
            let parts = value.split(separator: " ")
            guard let semantics = parts.first, SDPGrammar.isToken(semantics), parts.count >= 2 else {
                throw .malformedAttribute(name: "ssrc-group", value: String(value), reason: "expected '<semantics> <ssrc>...'")
            }
            guard parts.count - 1 <= Self.maxSSRCs else { throw .tooManyAttributes(name: "ssrc-group", limit: Self.maxSSRCs) }
            var ssrcs: [UInt32] = []
            for p in parts.dropFirst() {
                guard let s = UInt32(p) else { throw .malformedAttribute(name: "ssrc-group", value: String(value), reason: "ssrc") }
                ssrcs.append(s)
            }
            out.append(SSRCGroup(semantics: String(semantics), ssrcs: ssrcs))
        }
        return out
    }

    /// The SSRCs a sender announces: from `a=ssrc` lines, in first-seen order.
    public func announcedSSRCs() throws(SDPError) -> [UInt32] {
        var seen: [UInt32] = []
        var set: Set<UInt32> = []
        for a in try ssrcAttributes() where set.insert(a.ssrc).inserted { seen.append(a.ssrc) }
        return seen
    }

    public func msid() throws(SDPError) -> MediaStreamID? {
        guard let value = attribute("msid") else { return nil }
        let parts = value.split(separator: " ")
        // RFC 8830 §2: msid-id and msid-appdata are each 1*64 token-char.
        guard (1...2).contains(parts.count), let stream = parts.first,
              parts.allSatisfy({ $0.utf8.count <= 64 && SDPGrammar.isToken($0) }) else {
            throw .malformedAttribute(name: "msid", value: String(value), reason: "expected '<stream> [<track>]', each 1-64 token characters")
        }
        return MediaStreamID(stream: String(stream), track: parts.dropFirst().first.map(String.init))
    }

    public func rids() throws(SDPError) -> [RestrictionID] {
        var out: [RestrictionID] = []
        for value in attributeValues("rid") {
            let parts = value.split(separator: " ", maxSplits: 2)
            // RFC 8851 §10: rid-id = 1*(alpha-numeric / "-" / "_"); restrictions are `key[=value]`.
            guard let id = parts.first, id.utf8.allSatisfy(SDPAttributes.isRIDByte),
                  let direction = parts.dropFirst().first, direction == "send" || direction == "recv" else {
                throw .malformedAttribute(name: "rid", value: String(value), reason: "expected '<id> send|recv [<restrictions>]'")
            }
            var restrictions: [(String, String)] = []
            if let list = parts.dropFirst(2).first {
                for r in list.split(separator: ";") {
                    let kv = r.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    guard let key = kv.first, SDPGrammar.isToken(key) else {
                        throw .malformedAttribute(name: "rid", value: String(value), reason: "restriction without a name")
                    }
                    restrictions.append((String(key), kv.count > 1 ? kv.last.map(String.init) ?? "" : ""))
                }
            }
            out.append(RestrictionID(id: String(id), direction: String(direction), restrictions: restrictions))
        }
        return out
    }

    public func simulcast() throws(SDPError) -> SimulcastDescription? {
        guard let value = attribute("simulcast") else { return nil }
        let parts = value.split(separator: " ")
        guard parts.count == 2 || parts.count == 4 else {
            throw .malformedAttribute(name: "simulcast", value: String(value), reason: "expected 'send|recv <streams> [send|recv <streams>]'")
        }
        var result = SimulcastDescription()
        for i in stride(from: 0, to: parts.count - 1, by: 2) {
            let streams = parts[i + 1].split(separator: ";").map { alternatives in
                alternatives.split(separator: ",").map { rid in
                    SimulcastDescription.Stream(rid: String(rid.hasPrefix("~") ? rid.dropFirst() : rid), paused: rid.hasPrefix("~"))
                }
            }
            switch parts[i] {
            case "send": result.send = streams
            case "recv": result.recv = streams
            default: throw .malformedAttribute(name: "simulcast", value: String(value), reason: "direction must be send or recv")
            }
        }
        return result
    }

    /// Runs every typed accessor of this section, so a section with any malformed attribute the
    /// module knows is refused as a whole, even one its reader never asks for (`a=rid`, `a=msid`...).
    public func checkAttributes() throws(SDPError) {
        _ = try validatedMid()
        _ = try codecs()
        _ = try extensionMaps()
        _ = try ssrcAttributes()
        _ = try ssrcGroups()
        _ = try msid()
        _ = try rids()
        _ = try simulcast()
        _ = try candidates()
        _ = try fingerprint()
        _ = try setup()
    }

    public func candidates() throws(SDPError) -> [SDPCandidate] {
        var out: [SDPCandidate] = []
        for value in attributeValues("candidate") {
            guard out.count < Self.maxCandidates else { throw .tooManyAttributes(name: "candidate", limit: Self.maxCandidates) }
            out.append(try SDPCandidate(parsing: value))
        }
        return out
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
