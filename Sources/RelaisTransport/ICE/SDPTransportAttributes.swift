public import RelaisWire

/// Why an SDP does not describe a usable transport.
public enum SDPTransportError: Error, Equatable, Sendable, CustomStringConvertible {
    case noMediaSection
    case missingICECredentials
    /// RFC 8839 §5.4: ufrag 4-256 and password 22-256 ice-chars.
    case invalidICECredentials
    case missingFingerprint
    /// A transport attribute that does not parse (`a=fingerprint`, `a=setup`).
    case malformed(SDPError)

    public var description: String {
        switch self {
        case .noMediaSection: "no media section"
        case .missingICECredentials: "missing a=ice-ufrag or a=ice-pwd"
        case .invalidICECredentials: "a=ice-ufrag must be 4-256 and a=ice-pwd 22-256 ice-chars (RFC 8839 §5.4)"
        case .missingFingerprint: "missing a=fingerprint"
        case .malformed(let error): error.description
        }
    }
}

/// The transport attributes of an SDP, the one place that reads and writes them for the relay's
/// rooms, its echo route and `relais-client`: ICE credentials and options (RFC 8839 §5.4), the DTLS
/// fingerprint and role (RFC 8842 §5), the connection address and the host candidates (RFC 8839
/// §5.1). Every peer connection here is bundled (RFC 8843), so one set serves all sections.
public struct SDPTransportAttributes: Sendable, Equatable {
    public var credentials: ICECredentials
    public var fingerprint: DTLSFingerprint
    /// nil when the SDP has no `a=setup` (the DTLS role is then the answerer's choice).
    public var setup: SDPSetupRole?
    /// UDP candidates with a literal IP address, deduplicated by address, in SDP order.
    public var candidates: [ICECandidate]

    public init(credentials: ICECredentials, fingerprint: DTLSFingerprint, setup: SDPSetupRole?, candidates: [ICECandidate] = []) {
        self.credentials = credentials
        self.fingerprint = fingerprint
        self.setup = setup
        self.candidates = candidates
    }

    /// Candidates read from one SDP: a peer behind many interfaces lists a handful; a longer list
    /// is someone else's problem, not this relay's memory.
    public static let maxCandidates = 32

    /// Reads the transport from the first section with a port (bundled sections share it; a
    /// bundle-only or rejected section has port 0), or the first section if all have port 0.
    /// Credentials are checked against RFC 8839 §5.4: they end up in STUN usernames.
    public init(reading sdp: SessionDescription) throws(SDPTransportError) {
        guard let first = sdp.media.first(where: { $0.port != 0 }) ?? sdp.media.first else { throw .noMediaSection }
        guard let ufrag = sdp.iceUfrag(for: first), let password = sdp.icePassword(for: first) else {
            throw .missingICECredentials
        }
        guard (4...256).contains(ufrag.utf8.count), SDPGrammar.isICEString(ufrag),
              (22...256).contains(password.utf8.count), SDPGrammar.isICEString(password) else {
            throw .invalidICECredentials
        }
        let fingerprint: DTLSFingerprint?
        let setup: SDPSetupRole?
        do {
            fingerprint = try sdp.fingerprint(for: first)
            setup = try sdp.setup(for: first)
        } catch {
            throw .malformed(error)
        }
        guard let fingerprint else { throw .missingFingerprint }
        var candidates: [ICECandidate] = []
        for m in sdp.media {
            for c in (try? m.candidates()) ?? [] where c.transport.lowercased() == "udp" && candidates.count < Self.maxCandidates {
                guard let ip = IPAddress(c.address) else { continue }
                let candidate = ICECandidate(
                    foundation: c.foundation, priority: c.priority, address: TransportAddress(ip: ip, port: c.port), type: .host)
                if !candidates.contains(where: { $0.address == candidate.address }) { candidates.append(candidate) }
            }
        }
        self.init(credentials: ICECredentials(ufrag: ufrag, password: password), fingerprint: fingerprint, setup: setup, candidates: candidates)
    }

    /// One side's transport as it writes it into its SDP.
    public struct Local: Sendable, Equatable {
        public var credentials: ICECredentials
        public var fingerprint: DTLSFingerprint
        /// The one host candidate, also the `c=` address and the sections' port.
        public var address: TransportAddress
        /// `a=ice-options` (RFC 8839 §5.6): the relay says `ice2`, being an RFC 8445 ICE-lite agent.
        public var iceOptions: String?

        public init(credentials: ICECredentials, fingerprint: DTLSFingerprint, address: TransportAddress, iceOptions: String? = nil) {
            self.credentials = credentials
            self.fingerprint = fingerprint
            self.address = address
            self.iceOptions = iceOptions
        }

        /// The host candidate at `address`.
        public var candidate: ICECandidate {
            ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: address, type: .host)
        }

        /// `v=`, `o=`, `s=`, `t=` (RFC 8866 §5), the origin's address being `address`.
        public func sessionHeader(username: String, sessionID: UInt64, version: Int, name: String) -> SessionDescription {
            SessionDescription(lines: [
                SDPLine(type: "v", value: "0"),
                SDPLine(type: "o", value: "\(username) \(sessionID) \(version) IN \(address.ip.isIPv4 ? "IP4" : "IP6") \(address.ip)"),
                SDPLine(type: "s", value: name),
                SDPLine(type: "t", value: "0 0"),
            ])
        }

        /// Writes the section's port and `c=` line and its transport attributes.
        public func write(into m: inout MediaDescription, setup: SDPSetupRole) {
            m.port = Int(address.port)
            m.updateMLine()
            m.lines.insert(SDPLine(type: "c", value: "IN \(address.ip.isIPv4 ? "IP4" : "IP6") \(address.ip)"), at: 0)
            m.addAttribute("ice-ufrag", credentials.ufrag)
            m.addAttribute("ice-pwd", credentials.password)
            if let iceOptions { m.addAttribute("ice-options", iceOptions) }
            m.addAttribute("fingerprint", fingerprint.description)
            m.addAttribute("setup", setup.rawValue)
        }

        /// The host candidate and `a=end-of-candidates`: nothing trickles after it for this section.
        public func writeCandidates(into m: inout MediaDescription) {
            m.addAttribute(candidate.sdpValue)
            m.addAttribute("end-of-candidates")
        }
    }
}
