public import RelaisWire

/// Lifecycle events the owner reacts to.
public enum TransportEvent: Equatable, Sendable {
    /// ICE selected (or moved to) this peer address.
    case selected(TransportAddress)
    /// DTLS completed and SRTP is keyed: media may flow.
    case connected(SRTPProfile)
    /// The transport is unusable: DTLS failed (e.g. fingerprint mismatch) or SRTP could not be keyed.
    case failed(String)
    /// Consent expired or the peer closed DTLS.
    case closed(String)
}

/// Sizes, timeouts and policies of the relay's transports.
public struct TransportConfiguration: Sendable {
    /// RFC 7675 consent timeout; also reaps transports that never get a check.
    public var consentTimeout: Duration = .seconds(30)
    /// SRTP profiles offered in DTLS `use_srtp`, most preferred first.
    public var srtpProfiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80]
    /// DTLS records are sized to fit this path MTU.
    public var mtu = 1200
    /// Distinct SSRCs (RTP media and RTCP senders) a peer may send the relay on one transport. A
    /// publisher needs a few per m-section (media, RTX, FEC, simulcast layers); each SSRC costs
    /// SRTP replay state (libsrtp allocates a stream per SSRC and never frees it). Beyond the cap,
    /// packets under new SSRCs are dropped before decryption and counted (`.ssrcLimit`). Kept
    /// below the native GCM inbound table (64), so a peer can never evict its own replay state.
    public var maxInboundSSRCs = 32

    public init() {}
}

/// One peer's secure transport at the relay: its ICE-lite agent around the shared DTLS-SRTP core
/// (`DTLSSRTPSession`, DTLS server), sans-IO.
///
/// The media loop hands it every datagram the port router attributed to it; it answers STUN,
/// drives DTLS, decrypts SRTP in place and returns what the payload is. Control datagrams it
/// produces (STUN responses, DTLS flights) wait in `pollTransmit`; media is protected on demand by
/// the forwarding code through `protectRTP`/`protectRTCP`. A DTLS failure closes it and is reported
/// as `.failed` (see `DTLSSRTPSession`). Owned by one event loop; not Sendable.
public final class WebRTCTransport {
    public typealias Stats = DTLSSRTPSession.Stats

    public private(set) var ice: ICELiteAgent
    /// DTLS, SRTP, drop counting and the transport's open/closed state.
    public let session: DTLSSRTPSession
    public var dtls: DTLSEndpoint { session.dtls }
    public var srtp: SRTPContext? { session.srtp }
    public var drops: [TransportDropReason: Int] { session.drops }
    public var isClosed: Bool { session.isClosed }
    /// Packets and bytes received (after decryption) and sent (before encryption).
    public var stats: Stats { session.stats }

    private var outbox: [(bytes: [UInt8], destination: TransportAddress)] = []
    private var events: [TransportEvent] = []

    /// A transport with a DTLS context of its own (tests). The relay shares one context between
    /// all its transports: `init(localCredentials:remoteUfrag:dtlsContext:...)`.
    public convenience init(
        localCredentials: ICECredentials, remoteUfrag: String?, certificate: DTLSCertificate,
        remoteFingerprint: DTLSFingerprint, configuration: TransportConfiguration, now: Instant
    ) throws(DTLSError) {
        try self.init(
            localCredentials: localCredentials, remoteUfrag: remoteUfrag,
            dtlsContext: DTLSContext(certificate: certificate, profiles: configuration.srtpProfiles),
            remoteFingerprint: remoteFingerprint, configuration: configuration, now: now)
    }

    /// A transport whose DTLS certificate and SRTP profiles are `dtlsContext`'s (the relay's,
    /// shared by every transport; `configuration.srtpProfiles` is what the context was made with).
    public init(
        localCredentials: ICECredentials, remoteUfrag: String?, dtlsContext: DTLSContext,
        remoteFingerprint: DTLSFingerprint, configuration: TransportConfiguration, now: Instant
    ) throws(DTLSError) {
        self.ice = ICELiteAgent(local: localCredentials, remoteUfrag: remoteUfrag, consentTimeout: configuration.consentTimeout)
        self.session = DTLSSRTPSession(
            dtls: try DTLSEndpoint(role: .server, context: dtlsContext, remoteFingerprint: remoteFingerprint, mtu: configuration.mtu),
            maxInboundSSRCs: configuration.maxInboundSSRCs)
        ice.armConsent(now: now)
    }

    /// The peer address media goes to.
    public var sendAddress: TransportAddress? { ice.sendAddress }

    public var isConnected: Bool { session.isConnected }

    /// Handles one datagram from `source`. SRTP and SRTCP are decrypted in place within `buffer`
    /// (whose first `length` bytes are the datagram).
    public func handleDatagram(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, from source: TransportAddress, now: Instant
    ) -> TransportReceive {
        guard !session.isClosed else { return session.drop(.closed) }
        let datagram = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<length])
        let kind = PacketClass.classify(datagram)
        if kind == .stun { return handleSTUN(datagram, from: source, now: now) }
        let result = session.handleDatagram(buffer, length: length, kind: kind, validated: ice.isValidated(source), now: now)
        switch result {
        case .rtcp: ice.refreshConsent(authenticatedFrom: source, now: now)
        case .rtp, .handled, .dropped: if kind == .dtls { drainSession() }
        }
        return result
    }

    /// Forgets a validated peer address (see `ICELiteAgent.forget`).
    public func forgetAddress(_ address: TransportAddress) {
        ice.forget(address)
    }

    /// The SSRCs that authenticated on this transport (tests, diagnostics).
    public var inboundSSRCCount: Int { session.inboundSSRCCount }

    /// The relay stopped sending under `ssrc` on this transport (a removed consumer): its outbound
    /// SRTP state may be reclaimed for a new SSRC (`SRTPSession.retireOutbound`).
    public func retireOutbound(ssrc: UInt32) {
        session.retireOutbound(ssrc: ssrc)
    }

    /// Encrypts an RTP packet in place for sending; nil (and counted) when not connected or refused.
    @inline(__always)
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        session.protectRTP(buffer, length: length)
    }

    /// Encrypts an RTCP compound in place for sending.
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        session.protectRTCP(buffer, length: length)
    }

    /// The next control datagram to send (STUN response, DTLS flight).
    public func pollTransmit() -> (bytes: [UInt8], destination: TransportAddress)? {
        outbox.isEmpty ? nil : outbox.removeFirst()
    }

    public func pollEvent() -> TransportEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    /// The earliest of the ICE consent deadline and the DTLS retransmission timer.
    public var nextDeadline: Instant? {
        session.isClosed ? nil : earliest(ice.nextDeadline, session.nextTimeout)
    }

    public func handleTimeout(now: Instant) {
        guard !session.isClosed else { return }
        ice.handleTimeout(now: now)
        while let event = ice.pollEvent() { handleICEEvent(event) }
        session.handleTimeout(now: now)
        drainSession()
    }

    /// Accepts an ICE restart: new remote ufrag; DTLS and SRTP continue (RFC 8445 §9, JSEP §5.2.1).
    public func restartICE(remoteUfrag: String?) {
        ice.restart(remoteUfrag: remoteUfrag)
    }

    /// ICE restart with new local credentials too; DTLS and SRTP continue.
    public func restartICE(local: ICECredentials, remoteUfrag: String?) {
        ice.restart(local: local, remoteUfrag: remoteUfrag)
    }

    /// Sends close_notify and stops handling input.
    public func close(reason: String) {
        session.close(reason: reason)
        drainSession()
    }

    public var srtpCounters: SRTPCounters { session.srtpCounters }

    // MARK: - Internals

    private func handleSTUN(_ datagram: UnsafeRawBufferPointer, from source: TransportAddress, now: Instant) -> TransportReceive {
        var response: [UInt8] = []
        let outcome = withUnsafeTemporaryAllocation(byteCount: 512, alignment: 8) { scratch in
            let outcome = ice.handleSTUN(datagram, from: source, now: now, scratch: scratch)
            switch outcome {
            case .respond(let n), .refuse(_, let n?):
                response = Array(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
            default:
                break
            }
            return outcome
        }
        if !response.isEmpty { outbox.append((response, source)) }
        while let event = ice.pollEvent() { handleICEEvent(event) }
        switch outcome {
        case .respond: return .handled
        case .refuse(let reason, _), .drop(let reason): return session.drop(.stun(reason))
        }
    }

    private func handleICEEvent(_ event: ICELiteEvent) {
        switch event {
        case .selected(let address):
            events.append(.selected(address))
        case .consentExpired:
            session.pathLost(.closed("ICE consent expired"))
            drainSession()
        }
    }

    /// Moves the session's DTLS datagrams to the outbox, addressed to the peer's selected address
    /// (discarded while there is none), and its events to ours.
    private func drainSession() {
        let destination = ice.sendAddress
        session.drain(into: &events) { datagram in
            if let destination { outbox.append((datagram, destination)) }
        }
    }
}

extension TransportEvent: DTLSSRTPEventCarrier {}
