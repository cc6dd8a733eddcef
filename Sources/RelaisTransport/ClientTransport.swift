public import RelaisWire

/// What a received datagram was, for the client: like `TransportReceive`, with the local candidate
/// it arrived on.
public enum ClientTransportEvent: Equatable, Sendable {
    /// ICE nominated a pair: media goes from local candidate `localIndex` to `remote`.
    case selected(localIndex: Int, remote: TransportAddress)
    /// DTLS finished and SRTP is keyed.
    case connected(SRTPProfile)
    case failed(String)
    case closed(String)
}

/// The client side of one WebRTC transport (the headless client's publish or subscribe
/// connection to the relay): a full controlling ICE agent around the shared DTLS-SRTP core
/// (`DTLSSRTPSession`, DTLS client, `a=setup:active`).
///
/// Sans-IO like `WebRTCTransport`: the owner passes datagrams and time in, sends what
/// `pollTransmit` returns from the local candidate it names, and arms a timer for `nextDeadline`.
/// A DTLS failure closes it and is reported as `.failed`, as on the relay (see `DTLSSRTPSession`).
public final class ClientTransport {
    public private(set) var ice: ICEControllingAgent
    /// DTLS, SRTP, drop counting and the transport's open/closed state.
    public let session: DTLSSRTPSession
    public var dtls: DTLSEndpoint { session.dtls }
    public var srtp: SRTPContext? { session.srtp }
    public var isClosed: Bool { session.isClosed }
    public var drops: [TransportDropReason: Int] { session.drops }
    public var stats: DTLSSRTPSession.Stats { session.stats }
    /// The selected pair, once ICE nominated one.
    public private(set) var selected: (localIndex: Int, remote: TransportAddress)?

    private var outbox: [(bytes: [UInt8], localIndex: Int, destination: TransportAddress)] = []
    private var events: [ClientTransportEvent] = []

    public init(
        local: ICECredentials, remote: ICECredentials, localCandidates: [ICECandidate], certificate: DTLSCertificate,
        remoteFingerprint: DTLSFingerprint, configuration: TransportConfiguration
    ) throws(DTLSError) {
        var iceConfiguration = ICEControllingAgent.Configuration()
        iceConfiguration.consentTimeout = configuration.consentTimeout
        self.ice = ICEControllingAgent(local: local, remote: remote, localCandidates: localCandidates, configuration: iceConfiguration)
        // No inbound SSRC cap: the client's only peer is the relay it chose.
        self.session = DTLSSRTPSession(dtls: try DTLSEndpoint(
            role: .client, certificate: certificate, remoteFingerprint: remoteFingerprint,
            profiles: configuration.srtpProfiles, mtu: configuration.mtu))
    }

    public var isConnected: Bool { session.isConnected }

    /// A candidate of the relay's (from its SDP or trickled).
    public func addRemoteCandidate(_ candidate: ICECandidate, now: Instant) {
        ice.addRemoteCandidate(candidate, now: now)
        drainICE(now: now)
    }

    /// Handles one datagram that arrived on local candidate `localIndex` from `source`; SRTP and
    /// SRTCP are decrypted in place in `buffer`.
    public func handleDatagram(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, localIndex: Int, from source: TransportAddress, now: Instant
    ) -> TransportReceive {
        guard !session.isClosed else { return session.drop(.closed) }
        let datagram = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<length])
        let kind = PacketClass.classify(datagram)
        if kind == .stun {
            ice.handleSTUN(datagram, localIndex: localIndex, from: source, now: now)
            drainICE(now: now)
            return .handled
        }
        // Only the selected relay address may carry DTLS and media: the ICE check proved it.
        let fromSelected = selected.map { $0.remote == source } ?? false
        let result = session.handleDatagram(buffer, length: length, kind: kind, validated: fromSelected, now: now)
        if kind == .dtls { drainSession() }
        return result
    }

    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        session.protectRTP(buffer, length: length)
    }

    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        session.protectRTCP(buffer, length: length)
    }

    /// The next control datagram (STUN check, DTLS flight) and the local candidate to send it from.
    public func pollTransmit() -> (bytes: [UInt8], localIndex: Int, destination: TransportAddress)? {
        outbox.isEmpty ? nil : outbox.removeFirst()
    }

    public func pollEvent() -> ClientTransportEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    public var nextDeadline: Instant? {
        session.isClosed ? nil : earliest(ice.nextDeadline, session.nextTimeout)
    }

    public func handleTimeout(now: Instant) {
        guard !session.isClosed else { return }
        drainICE(now: now)
        session.handleTimeout(now: now)
        drainSession()
    }

    /// Sends close_notify and stops.
    public func close(reason: String) {
        session.close(reason: reason)
        drainSession()
    }

    public var srtpCounters: SRTPCounters { session.srtpCounters }

    // MARK: - Internals

    private func drainICE(now: Instant) {
        while let output = ice.poll(now: now) {
            switch output {
            case .transmit(let bytes, let localIndex, let destination):
                outbox.append((bytes, localIndex, destination))
            case .connected(let localIndex, let remote):
                selected = (localIndex, remote)
                events.append(.selected(localIndex: localIndex, remote: remote))
                session.start(now: now)  // the client speaks first (ClientHello); once
                drainSession()
            case .failed:
                session.pathLost(.failed("ICE: every candidate pair failed"))
                drainSession()
            case .consentLost:
                session.pathLost(.closed("ICE consent lost"))
                drainSession()
            }
        }
    }

    /// Moves the session's DTLS datagrams to the outbox, on the selected pair (discarded while
    /// there is none), and its events to ours.
    private func drainSession() {
        let path = selected
        session.drain(into: &events) { datagram in
            if let path { outbox.append((datagram, path.localIndex, path.remote)) }
        }
    }
}

extension ClientTransportEvent: DTLSSRTPEventCarrier {}
