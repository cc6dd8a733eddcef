/// Why a text is not a usable SDP (RFC 8866). Line numbers are 1-based.
public enum SDPError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLarge(bytes: Int, limit: Int)
    case tooManyLines(limit: Int)
    /// One line longer than `SessionDescription.maxLineBytes`.
    case lineTooLong(line: Int, limit: Int)
    /// A control character inside a line (see `SDPGrammar.isAllowed`): a lone CR or LF, NUL, any
    /// other C0 or C1 control, DEL, or a Unicode line separator. Such a line could be re-read as two
    /// lines by the next parser, so nothing of it is ever copied into another peer's SDP.
    case controlCharacter(line: Int)
    case tooManyMediaSections(limit: Int)
    /// More lines of one attribute in a section than the typed accessor accepts (ssrcs, candidates).
    case tooManyAttributes(name: String, limit: Int)
    /// The first line is not `v=0`.
    case missingVersion
    /// A line without `<type>=`.
    case missingEquals(line: Int)
    /// A type letter RFC 8866 does not define.
    case unknownLineType(line: Int, type: String)
    /// A line whose fields do not parse (bad `m=` port, `o=` with missing fields...).
    case malformedLine(line: Int, reason: String)
    /// A known attribute whose value does not parse, found by a typed accessor.
    case malformedAttribute(name: String, value: String, reason: String)

    public var description: String {
        switch self {
        case .empty: "empty SDP"
        case .tooLarge(let bytes, let limit): "SDP of \(bytes) bytes exceeds \(limit)"
        case .tooManyLines(let limit): "SDP has more than \(limit) lines"
        case .lineTooLong(let line, let limit): "line \(line) is longer than \(limit) bytes"
        case .controlCharacter(let line): "line \(line) contains a control character"
        case .tooManyMediaSections(let limit): "SDP has more than \(limit) media sections"
        case .tooManyAttributes(let name, let limit): "more than \(limit) a=\(name) in one section"
        case .missingVersion: "SDP must start with v=0"
        case .missingEquals(let line): "line \(line) has no '='"
        case .unknownLineType(let line, let type): "line \(line): unknown line type '\(type)'"
        case .malformedLine(let line, let reason): "line \(line): \(reason)"
        case .malformedAttribute(let name, let value, let reason): "a=\(name):\(value): \(reason)"
        }
    }
}

/// One SDP line kept exactly as received (`type=value`), so a description re-serializes byte for
/// byte, including every line this module does not interpret.
public struct SDPLine: Equatable, Sendable {
    public var type: Character
    public var value: String

    public init(type: Character, value: String) {
        self.type = type
        self.value = value
    }

    /// For `a=` lines: the attribute name (before the first colon).
    public var attributeName: Substring? {
        guard type == "a" else { return nil }
        return value.utf8.firstIndex(of: UInt8(ascii: ":")).map { value[..<$0] } ?? Substring(value)
    }

    /// For `a=` lines: the attribute value (after the first colon), nil for flags like `a=rtcp-mux`.
    public var attributeValue: Substring? {
        guard type == "a", let colon = value.utf8.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return value[value.utf8.index(after: colon)...]
    }

    /// Whether this is `a=name` or `a=name:...`, comparing bytes: attribute names are ASCII tokens,
    /// and byte equality is both stricter and much cheaper than String's canonical equivalence.
    public func hasAttributeName(_ name: String) -> Bool {
        guard type == "a" else { return false }
        let bytes = value.utf8
        let nameBytes = name.utf8
        guard bytes.count >= nameBytes.count, bytes.starts(with: nameBytes) else { return false }
        let after = bytes.index(bytes.startIndex, offsetBy: nameBytes.count)
        return after == bytes.endIndex || bytes[after] == UInt8(ascii: ":")
    }

    public static func attribute(_ name: String, _ value: String? = nil) -> SDPLine {
        SDPLine(type: "a", value: value.map { "\(name):\($0)" } ?? name)
    }
}

/// An ordered list of lines with attribute lookups, shared by the session and media levels.
public protocol SDPSection {
    var lines: [SDPLine] { get set }
}

extension SDPSection {
    /// Values of every `a=name:value` (or `""` for a flag `a=name`), in order.
    public func attributeValues(_ name: String) -> [Substring] {
        lines.compactMap { line in
            guard line.hasAttributeName(name) else { return nil }
            return line.attributeValue ?? ""
        }
    }

    /// The first value of attribute `name`.
    public func attribute(_ name: String) -> Substring? {
        lines.first { $0.hasAttributeName(name) }.map { $0.attributeValue ?? "" }
    }

    public func hasAttribute(_ name: String) -> Bool {
        lines.contains { $0.hasAttributeName(name) }
    }

    public mutating func addAttribute(_ name: String, _ value: String? = nil) {
        lines.append(.attribute(name, value))
    }

    public mutating func removeAttributes(_ name: String) {
        lines.removeAll { $0.hasAttributeName(name) }
    }
}

/// A parsed session description: session-level lines, then media sections.
public struct SessionDescription: SDPSection, Equatable, Sendable {
    /// Session-level lines in order, from `v=` up to the first `m=`.
    public var lines: [SDPLine]
    public var media: [MediaDescription]

    /// Hostile-input bounds: real offers are a few KiB and a few hundred lines, their longest line
    /// (a SHA-512 fingerprint, an ssrc's msid) a few hundred bytes, and a browser bundling a large
    /// call a few dozen media sections. Every count the parser keeps is bounded by one of these.
    public static let maxBytes = 256 * 1024
    public static let maxLines = 10_000
    public static let maxLineBytes = 4096
    public static let maxMediaSections = 256

    public init(lines: [SDPLine], media: [MediaDescription] = []) {
        self.lines = lines
        self.media = media
    }

    /// Parses an SDP, accepting CRLF or LF line ends. Every line is kept; only `v=`, `o=` and `m=`
    /// are checked structurally here, attributes are checked by the typed accessors that read them.
    public init(parsing text: String) throws(SDPError) {
        let utf8 = text.utf8
        guard utf8.count <= Self.maxBytes else { throw .tooLarge(bytes: utf8.count, limit: Self.maxBytes) }
        var session: [SDPLine] = []
        var media: [MediaDescription] = []
        var number = 0
        // Lines are cut on the UTF-8 bytes rather than on Characters (grapheme breaking made the cut
        // the parser's most expensive step): a line ends at LF, after an optional CR. Any other CR
        // is a control character, refused below.
        for raw in utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            var bytes = raw
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            number += 1
            if bytes.isEmpty { continue }  // trailing newline, or tolerated blank lines
            guard number <= Self.maxLines else { throw .tooManyLines(limit: Self.maxLines) }
            guard bytes.count <= Self.maxLineBytes else { throw .lineTooLong(line: number, limit: Self.maxLineBytes) }
            // <type>=<value>: the type is one ASCII letter, so the value starts at the third byte.
            guard let typeByte = bytes.first, let equals = bytes.dropFirst().first, equals == UInt8(ascii: "=") else {
                throw .missingEquals(line: number)
            }
            let type = Character(Unicode.Scalar(typeByte))
            guard "vosiuepcbtrzkam".utf8.contains(typeByte) else { throw .unknownLineType(line: number, type: String(type)) }
            let allowsTab = SDPGrammar.textLineTypes.contains(type)
            guard SDPGrammar.isAllowed(utf8: bytes, tab: allowsTab) else {
                throw .controlCharacter(line: number)
            }
            let value = String(decoding: bytes.dropFirst(2), as: UTF8.self)
            let sdpLine = SDPLine(type: type, value: value)
            if session.isEmpty {
                guard type == "v", value == "0" else { throw .missingVersion }
            }
            switch type {
            case "o":
                guard value.split(separator: " ").count == 6 else { throw .malformedLine(line: number, reason: "o= needs 6 fields") }
            case "m":
                guard media.count < Self.maxMediaSections else { throw .tooManyMediaSections(limit: Self.maxMediaSections) }
                media.append(try MediaDescription(mLine: value, lineNumber: number))
                continue
            default:
                break
            }
            if let last = media.indices.last {
                media[last].lines.append(sdpLine)
            } else {
                session.append(sdpLine)
            }
        }
        guard !session.isEmpty else { throw .empty }
        self.lines = session
        self.media = media
    }

    /// The text, CRLF after every line (RFC 8866 §5).
    public func serialize() -> String {
        var out = ""
        for line in lines { out += "\(line.type)=\(line.value)\r\n" }
        for m in media {
            out += "m=\(m.mLine)\r\n"
            for line in m.lines { out += "\(line.type)=\(line.value)\r\n" }
        }
        return out
    }

    /// `a=group:BUNDLE` mids (RFC 8843), if present.
    public var bundleMids: [String]? {
        for value in attributeValues("group") {
            let parts = value.split(separator: " ")
            if parts.first == "BUNDLE" { return parts.dropFirst().map(String.init) }
        }
        return nil
    }

    /// Whether the peer refused section `m`: port 0, unless the section is `a=bundle-only` and in the
    /// BUNDLE group (RFC 8843 §6, §7.2.1): such a section is accepted and uses the group's transport.
    /// GStreamer's webrtcbin offers every section after the first that way under max-bundle.
    public func isRejected(_ m: MediaDescription) -> Bool {
        guard m.port == 0 else { return false }
        guard m.hasAttribute("bundle-only"), let mid = m.mid, let bundle = bundleMids else { return true }
        return !bundle.contains(mid)
    }

    public var isICELite: Bool { hasAttribute("ice-lite") }

    /// Runs every typed accessor at session level and in every section (`checkAttributes` of
    /// `MediaDescription`): what a relay calls before it trusts any part of a peer's SDP.
    public func checkAttributes() throws(SDPError) {
        _ = try SDPAttributes.fingerprint(self)
        _ = try SDPAttributes.setup(self)
        for m in media { try m.checkAttributes() }
    }

    // Effective values: JSEP allows these at session or media level; media level wins.

    public func iceUfrag(for media: MediaDescription) -> String? {
        (media.attribute("ice-ufrag") ?? attribute("ice-ufrag")).map(String.init)
    }

    public func icePassword(for media: MediaDescription) -> String? {
        (media.attribute("ice-pwd") ?? attribute("ice-pwd")).map(String.init)
    }

    public func fingerprint(for media: MediaDescription) throws(SDPError) -> DTLSFingerprint? {
        if let f = try media.fingerprint() { return f }
        return try SDPAttributes.fingerprint(self)
    }

    public func setup(for media: MediaDescription) throws(SDPError) -> SDPSetupRole? {
        if let s = try media.setup() { return s }
        return try SDPAttributes.setup(self)
    }
}

/// One `m=` section.
public struct MediaDescription: SDPSection, Equatable, Sendable {
    /// The `m=` value exactly as received (`video 9 UDP/TLS/RTP/SAVPF 96 97`).
    public var mLine: String
    public var kind: String
    public var port: Int
    public var proto: String
    /// Formats: payload types for RTP profiles, kept as text.
    public var formats: [String]
    /// Lines after `m=` up to the next `m=`.
    public var lines: [SDPLine]

    public init(kind: String, port: Int, proto: String, formats: [String], lines: [SDPLine] = []) {
        self.kind = kind
        self.port = port
        self.proto = proto
        self.formats = formats
        self.lines = lines
        self.mLine = ([kind, String(port), proto] + formats).joined(separator: " ")
    }

    /// Formats on one m= line: RTP payload types are 0-127, so a longer list only repeats them.
    public static let maxFormats = 128

    init(mLine: String, lineNumber: Int) throws(SDPError) {
        let fields = mLine.split(separator: " ")
        guard let kind = fields.first, let portText = fields.dropFirst().first, let proto = fields.dropFirst(2).first else {
            throw .malformedLine(line: lineNumber, reason: "m= needs media, port, proto")
        }
        // RFC 8866 §5.14: <media> and <proto> are tokens; <port> or <port>/<number of ports>.
        guard SDPGrammar.isToken(kind), proto.split(separator: "/").allSatisfy(SDPGrammar.isToken) else {
            throw .malformedLine(line: lineNumber, reason: "m= media and proto must be tokens")
        }
        let portField = portText.split(separator: "/", omittingEmptySubsequences: false)
        guard portField.count <= 2, let first = portField.first, let port = Int(first), (0...65535).contains(port) else {
            throw .malformedLine(line: lineNumber, reason: "m= port '\(portText)' is not 0-65535")
        }
        let formats = fields.dropFirst(3)
        guard formats.count <= Self.maxFormats, formats.allSatisfy(SDPGrammar.isToken) else {
            throw .malformedLine(line: lineNumber, reason: "m= has more than \(Self.maxFormats) formats or a format that is not a token")
        }
        self.mLine = mLine
        self.kind = String(kind)
        self.port = port
        self.proto = String(proto)
        self.formats = formats.map(String.init)
        self.lines = []
    }

    /// Rebuilds the `m=` text after `formats` or `port` changed.
    public mutating func updateMLine() {
        mLine = ([kind, String(port), proto] + formats).joined(separator: " ")
    }

    public var mid: String? { attribute("mid").map(String.init) }

    /// The longest `a=mid` the relay accepts: the mid RTP header extension (RFC 8843 §15.2) in its
    /// one-byte form carries at most 16 bytes (RFC 8285 §4.2).
    public static let maxMidLength = 16

    /// `a=mid` checked: an RFC 8843 §9.1 identification-tag (an RFC 8866 token) of at most
    /// `maxMidLength` characters; nil when the section has none.
    public func validatedMid() throws(SDPError) -> String? {
        guard let value = attribute("mid") else { return nil }
        guard value.utf8.count <= Self.maxMidLength, SDPGrammar.isToken(value) else {
            throw .malformedAttribute(name: "mid", value: String(value), reason: "must be 1-\(Self.maxMidLength) token characters")
        }
        return String(value)
    }

    public var isRTP: Bool { proto.contains("RTP/") }

    /// Payload types of the m= line (RTP profiles only; non-numeric formats are skipped).
    public var payloadTypes: [UInt8] {
        formats.compactMap { UInt8($0) }.filter { $0 < 128 }
    }

    public var direction: SDPDirection {
        for line in lines {
            if let name = line.attributeName, let d = SDPDirection(rawValue: String(name)) { return d }
        }
        return .sendrecv
    }

    public func fingerprint() throws(SDPError) -> DTLSFingerprint? { try SDPAttributes.fingerprint(self) }
    public func setup() throws(SDPError) -> SDPSetupRole? { try SDPAttributes.setup(self) }
}
