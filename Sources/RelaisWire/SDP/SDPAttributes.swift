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
    static func payloadType(_ text: Substring, attribute: String, value: Substring) throws(SDPError) -> UInt8 {
        guard let pt = UInt8(text), pt < 128 else {
            throw .malformedAttribute(name: attribute, value: String(value), reason: "payload type must be 0-127")
        }
        return pt
    }

    static func fingerprint(_ section: some SDPSection) throws(SDPError) -> DTLSFingerprint? {
        guard let value = section.attribute("fingerprint") else { return nil }
        let parts = value.split(separator: " ")
        guard parts.count == 2, let f = DTLSFingerprint(algorithm: String(parts[0]), hex: String(parts[1])) else {
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
            guard enc.count >= 2, enc.count <= 3, !enc[0].isEmpty, let rate = Int(enc[1]), rate > 0 else {
                throw .malformedAttribute(name: "rtpmap", value: String(value), reason: "expected '<encoding>/<clock rate>[/<channels>]'")
            }
            var channels: Int?
            if enc.count == 3 {
                guard let c = Int(enc[2]), c > 0 else { throw .malformedAttribute(name: "rtpmap", value: String(value), reason: "channels") }
                channels = c
            }
            out.append(RTPMap(payloadType: pt, encodingName: String(enc[0]), clockRate: rate, channels: channels))
        }
        return out
    }

    public func formatParameters() throws(SDPError) -> [FormatParameters] {
        var out: [FormatParameters] = []
        for value in attributeValues("fmtp") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { throw .malformedAttribute(name: "fmtp", value: String(value), reason: "expected '<pt> <parameters>'") }
            out.append(FormatParameters(payloadType: try SDPAttributes.payloadType(parts[0], attribute: "fmtp", value: value), parameters: String(parts[1])))
        }
        return out
    }

    public func rtcpFeedback() throws(SDPError) -> [RTCPFeedbackAttribute] {
        var out: [RTCPFeedbackAttribute] = []
        for value in attributeValues("rtcp-fb") {
            let parts = value.split(separator: " ")
            guard parts.count >= 2 else { throw .malformedAttribute(name: "rtcp-fb", value: String(value), reason: "expected '<pt> <type>'") }
            let pt: UInt8? = parts[0] == "*" ? nil : try SDPAttributes.payloadType(parts[0], attribute: "rtcp-fb", value: value)
            out.append(RTCPFeedbackAttribute(payloadType: pt, type: String(parts[1]), parameter: parts.count > 2 ? parts[2...].joined(separator: " ") : nil))
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
            guard parts.count >= 2 else { throw .malformedAttribute(name: "extmap", value: String(value), reason: "expected '<id> <uri>'") }
            let idParts = parts[0].split(separator: "/", omittingEmptySubsequences: false)
            guard let id = UInt8(idParts[0]), id >= 1 else {
                throw .malformedAttribute(name: "extmap", value: String(value), reason: "id must be 1-255")
            }
            var direction: SDPDirection?
            if idParts.count == 2 {
                guard let d = SDPDirection(rawValue: String(idParts[1])) else {
                    throw .malformedAttribute(name: "extmap", value: String(value), reason: "direction")
                }
                direction = d
            } else if idParts.count > 2 {
                throw .malformedAttribute(name: "extmap", value: String(value), reason: "id")
            }
            out.append(ExtensionMap(id: id, direction: direction, uri: String(parts[1]), attributes: parts.count > 2 ? String(parts[2]) : nil))
        }
        return out
    }

    public func ssrcAttributes() throws(SDPError) -> [SSRCAttribute] {
        var out: [SSRCAttribute] = []
        for value in attributeValues("ssrc") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let ssrc = UInt32(parts[0]) else {
                throw .malformedAttribute(name: "ssrc", value: String(value), reason: "expected '<ssrc> <attribute>[:<value>]'")
            }
            let kv = parts[1].split(separator: ":", maxSplits: 1)
            out.append(SSRCAttribute(ssrc: ssrc, name: String(kv[0]), value: kv.count > 1 ? String(kv[1]) : nil))
        }
        return out
    }

    public func ssrcGroups() throws(SDPError) -> [SSRCGroup] {
        var out: [SSRCGroup] = []
        for value in attributeValues("ssrc-group") {
            let parts = value.split(separator: " ")
            guard parts.count >= 2 else { throw .malformedAttribute(name: "ssrc-group", value: String(value), reason: "expected '<semantics> <ssrc>...'") }
            var ssrcs: [UInt32] = []
            for p in parts.dropFirst() {
                guard let s = UInt32(p) else { throw .malformedAttribute(name: "ssrc-group", value: String(value), reason: "ssrc") }
                ssrcs.append(s)
            }
            out.append(SSRCGroup(semantics: String(parts[0]), ssrcs: ssrcs))
        }
        return out
    }

    /// The SSRCs a sender announces: from `a=ssrc` lines, in first-seen order.
    public func announcedSSRCs() throws(SDPError) -> [UInt32] {
        var seen: [UInt32] = []
        for a in try ssrcAttributes() where !seen.contains(a.ssrc) { seen.append(a.ssrc) }
        return seen
    }

    public func msid() throws(SDPError) -> MediaStreamID? {
        guard let value = attribute("msid") else { return nil }
        let parts = value.split(separator: " ")
        guard (1...2).contains(parts.count) else { throw .malformedAttribute(name: "msid", value: String(value), reason: "expected '<stream> [<track>]'") }
        return MediaStreamID(stream: String(parts[0]), track: parts.count > 1 ? String(parts[1]) : nil)
    }

    public func rids() throws(SDPError) -> [RestrictionID] {
        var out: [RestrictionID] = []
        for value in attributeValues("rid") {
            let parts = value.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[1] == "send" || parts[1] == "recv" else {
                throw .malformedAttribute(name: "rid", value: String(value), reason: "expected '<id> send|recv [<restrictions>]'")
            }
            var restrictions: [(String, String)] = []
            if parts.count == 3 {
                for r in parts[2].split(separator: ";") {
                    let kv = r.split(separator: "=", maxSplits: 1)
                    restrictions.append((String(kv[0]), kv.count > 1 ? String(kv[1]) : ""))
                }
            }
            out.append(RestrictionID(id: String(parts[0]), direction: String(parts[1]), restrictions: restrictions))
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
        for i in stride(from: 0, to: parts.count, by: 2) {
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

    public func candidates() throws(SDPError) -> [SDPCandidate] {
        var out: [SDPCandidate] = []
        for value in attributeValues("candidate") { out.append(try SDPCandidate(parsing: value)) }
        return out
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
