public import RelaisWire

/// Why the ICE agent dropped or refused a STUN message. Each is counted by the owner.
public enum ICEDropReason: String, Sendable, CaseIterable {
    case malformed
    case notABindingRequest
    case badFingerprint
    case missingAttributes
    case unknownUsername
    case badIntegrity
    case roleConflict
    case unknownComprehensionRequired
    case closed
}

/// What the owner must do with a STUN message it passed to the agent.
public enum ICELiteOutcome: Equatable, Sendable {
    /// A valid check: send the `length` bytes the agent wrote at the start of the scratch buffer
    /// (an authenticated success response) back to the source.
    case respond(length: Int)
    /// A refused check: count `reason`; if `errorLength` is set, send that many bytes (a STUN error
    /// response without MESSAGE-INTEGRITY) back to the source.
    case refuse(ICEDropReason, errorLength: Int?)
    /// Drop silently (RFC 8489 §7.3: bad FINGERPRINT, or not a request).
    case drop(ICEDropReason)
}

/// State changes the owner reacts to (start DTLS, switch the send address, close the transport).
public enum ICELiteEvent: Equatable, Sendable {
    /// The controlling peer nominated this address (USE-CANDIDATE), or moved to a new one.
    case selected(TransportAddress)
    /// No valid check arrived within the consent timeout (RFC 7675 §5.1).
    case consentExpired(lastConsent: Instant)
}

/// The relay's side of ICE for one transport: ICE-lite and always controlled (RFC 8445 §2.5).
///
/// A lite agent gathers no candidates and sends no checks; it answers Binding requests that
/// authenticate with its password, learns peer-reflexive addresses from them, and takes the pair
/// the controlling peer nominates. Only addresses that passed a check may carry DTLS or media:
/// `isValidated(_:)` is the gate the owner applies to every non-STUN datagram.
public struct ICELiteAgent: Sendable {
    public private(set) var local: ICECredentials
    /// The peer's ufrag from its SDP; when known, the USERNAME's second half must match it.
    public var remoteUfrag: String?
    public var consentTimeout: Duration

    public private(set) var selected: TransportAddress?
    public private(set) var lastConsent: Instant?
    public private(set) var isClosed = false
    /// Recently validated addresses (a peer may check several of its candidates before nominating).
    public private(set) var validated: [TransportAddress] = []
    /// When each of `validated` last passed a check (same order).
    private var validatedAt: [Instant] = []
    public static let maxValidated = 8

    private var pendingEvents: [ICELiteEvent] = []
    private var localUfragBytes: [UInt8]
    private var passwordBytes: [UInt8]

    public init(local: ICECredentials, remoteUfrag: String? = nil, consentTimeout: Duration = .seconds(30)) {
        self.local = local
        self.remoteUfrag = remoteUfrag
        self.consentTimeout = consentTimeout
        self.localUfragBytes = Array(local.ufrag.utf8)
        self.passwordBytes = Array(local.password.utf8)
    }

    /// True when `address` passed an ICE check on this transport; everything else is dropped.
    public func isValidated(_ address: TransportAddress) -> Bool {
        validated.contains(address)
    }

    /// When `address` last passed a check on this transport (its latest consent, RFC 7675 §5.1).
    public func lastCheck(from address: TransportAddress) -> Instant? {
        validated.firstIndex(of: address).map { validatedAt[$0] }
    }

    /// Forgets a validated address: it no longer carries DTLS or media, and is not sent to (the
    /// owner found it bound to another live transport).
    public mutating func forget(_ address: TransportAddress) {
        guard let index = validated.firstIndex(of: address) else { return }
        validated.remove(at: index)
        validatedAt.remove(at: index)
        if selected == address { selected = nil }
    }

    /// Where to send: the nominated address, or the latest validated one before nomination.
    public var sendAddress: TransportAddress? {
        selected ?? validated.last
    }

    /// Handles one STUN datagram from `source`, writing any response into `scratch`.
    public mutating func handleSTUN(
        _ datagram: UnsafeRawBufferPointer, from source: TransportAddress, now: Instant,
        scratch: UnsafeMutableRawBufferPointer
    ) -> ICELiteOutcome {
        guard !isClosed else { return .drop(.closed) }
        let message: STUNMessageView
        do {
            message = try STUNMessageView(parsing: datagram)
        } catch {
            return .drop(.malformed)
        }
        // Responses and indications (consent, keepalive from the peer) need no answer from a lite agent.
        guard message.type == .bindingRequest else { return .drop(.notABindingRequest) }
        if message.fingerprintOffset >= 0, !message.hasValidFingerprint { return .drop(.badFingerprint) }

        guard let username = message.username, message.messageIntegrityOffset >= 0 else {
            return errorResponse(400, "Bad Request", to: message, reason: .missingAttributes, scratch: scratch)
        }
        guard usernameMatches(username) else {
            return errorResponse(401, "Unauthorized", to: message, reason: .unknownUsername, scratch: scratch)
        }
        let authentic = passwordBytes.withUnsafeBytes { message.hasValidIntegrity(key: $0) }
        guard authentic else {
            return errorResponse(401, "Unauthorized", to: message, reason: .badIntegrity, scratch: scratch)
        }
        if message.unknownRequiredAttribute != nil {
            return errorResponse(420, "Unknown Attribute", to: message, reason: .unknownComprehensionRequired, scratch: scratch)
        }
        // A lite agent is always controlled; a peer that also claims to be controlled is misconfigured
        // (RFC 8445 §6.1.1 makes the full agent controlling when its peer is lite).
        if message.iceControlled != nil, message.iceControlling == nil {
            return errorResponse(487, "Role Conflict", to: message, reason: .roleConflict, scratch: scratch)
        }

        remember(source, now: now)
        lastConsent = now
        if message.useCandidate, selected != source {
            selected = source
            pendingEvents.append(.selected(source))
        }
        return successResponse(to: message, source: source, scratch: scratch)
    }

    /// The next event, if any.
    public mutating func pollEvent() -> ICELiteEvent? {
        pendingEvents.isEmpty ? nil : pendingEvents.removeFirst()
    }

    /// When the owner must call `handleTimeout`: the consent deadline once a check has arrived.
    public var nextDeadline: Instant? {
        guard !isClosed, let lastConsent else { return nil }
        return lastConsent + consentTimeout
    }

    /// Closes the transport when consent has lapsed (RFC 7675 §5.1).
    public mutating func handleTimeout(now: Instant) {
        guard let deadline = nextDeadline, let lastConsent, now >= deadline else { return }
        isClosed = true
        pendingEvents.append(.consentExpired(lastConsent: lastConsent))
    }

    /// Authenticated SRTCP arrived from `source`: when that address passed a check, the peer is
    /// still there and still wants media, so its consent is refreshed as a check would.
    ///
    /// Why: RFC 7675 consent is the sender's own check that its peer still wants traffic; a lite
    /// agent sends no checks and relies on the peer's. Browsers send a consent request every few
    /// seconds, but an agent that keeps its pair alive with RFC 8445 §11 Binding Indications only
    /// (libnice under GStreamer 1.22's webrtcbin, in many carts) sends no request after nominating,
    /// and its transport would be closed after `consentTimeout` in the middle of a consultation.
    /// Its RTCP (mandatory, RFC 3550 §6) carries the SRTP keys' proof instead: nobody off the path
    /// can forge it, and a peer that leaves stops both.
    public mutating func refreshConsent(authenticatedFrom source: TransportAddress, now: Instant) {
        guard !isClosed, let index = validated.firstIndex(of: source) else { return }
        lastConsent = now
        validatedAt[index] = now
    }

    /// Starts the consent clock for a transport that has not been checked yet, so a peer that never
    /// connects is also reaped.
    public mutating func armConsent(now: Instant) {
        if lastConsent == nil { lastConsent = now }
    }

    /// Accepts new peer credentials after an ICE restart (RFC 8445 §9); validated addresses stay
    /// until the new checks replace them, so media keeps flowing meanwhile.
    public mutating func restart(remoteUfrag: String?) {
        self.remoteUfrag = remoteUfrag
    }

    /// An ICE restart in which the relay also takes new credentials, as JSEP requires of an
    /// answerer (RFC 8829 §5.3.1) and of an offerer restarting (§5.2.1). Checks must then use them.
    public mutating func restart(local: ICECredentials, remoteUfrag: String?) {
        self.local = local
        self.localUfragBytes = Array(local.ufrag.utf8)
        self.passwordBytes = Array(local.password.utf8)
        self.remoteUfrag = remoteUfrag
    }

    // MARK: - Internals

    private func usernameMatches(_ username: UnsafeRawBufferPointer) -> Bool {
        // RFC 8445 §7.2.2: USERNAME is "<receiver ufrag>:<sender ufrag>", the receiver being us.
        let n = localUfragBytes.count
        guard username.count > n, username[n] == UInt8(ascii: ":") else { return false }
        for i in 0..<n where username[i] != localUfragBytes[i] { return false }
        guard let remoteUfrag else { return true }
        let remote = UnsafeRawBufferPointer(rebasing: username[(n + 1)...])
        return remote.equalsBytes(Array(remoteUfrag.utf8))
    }

    private mutating func remember(_ address: TransportAddress, now: Instant) {
        if let index = validated.firstIndex(of: address) {
            validated.remove(at: index)
            validatedAt.remove(at: index)
        } else if validated.count >= Self.maxValidated {
            // Never forget the nominated address while it is in use.
            if let victim = validated.firstIndex(where: { $0 != selected }) {
                validated.remove(at: victim)
                validatedAt.remove(at: victim)
            }
        }
        validated.append(address)
        validatedAt.append(now)
    }

    private func successResponse(
        to request: STUNMessageView, source: TransportAddress, scratch: UnsafeMutableRawBufferPointer
    ) -> ICELiteOutcome {
        do {
            var builder = try STUNMessageBuilder(
                type: .bindingSuccess, transactionID: request.transactionID, writer: ByteWriter(scratch))
            try builder.addXorMappedAddress(source)
            try builder.addMessageIntegrity(key: passwordBytes)
            try builder.addFingerprint()
            return .respond(length: builder.length)
        } catch {
            // The scratch buffer is sized for a datagram; a response is under 100 bytes.
            return .drop(.malformed)
        }
    }

    private func errorResponse(
        _ code: Int, _ phrase: String, to request: STUNMessageView, reason: ICEDropReason,
        scratch: UnsafeMutableRawBufferPointer
    ) -> ICELiteOutcome {
        do {
            var builder = try STUNMessageBuilder(
                type: .bindingError, transactionID: request.transactionID, writer: ByteWriter(scratch))
            try builder.addErrorCode(code, reason: phrase)
            try builder.addFingerprint()
            return .refuse(reason, errorLength: builder.length)
        } catch {
            return .refuse(reason, errorLength: nil)
        }
    }
}
