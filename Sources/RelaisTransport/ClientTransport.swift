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
/// connection to the relay): a full controlling ICE agent, DTLS client (`a=setup:active`), SRTP.
///
/// Sans-IO like `WebRTCTransport`: the owner passes datagrams and time in, sends what
/// `pollTransmit` returns from the local candidate it names, and arms a timer for `nextDeadline`.
public final class ClientTransport {
    public private(set) var ice: ICEControllingAgent
    public let dtls: DTLSEndpoint
    public private(set) var srtp: SRTPContext?
    public private(set) var isClosed = false
    public private(set) var drops: [TransportDropReason: Int] = [:]
    public private(set) var stats = WebRTCTransport.Stats()
    /// The selected pair, once ICE nominated one.
    public private(set) var selected: (localIndex: Int, remote: TransportAddress)?

    private var outbox: [(bytes: [UInt8], localIndex: Int, destination: TransportAddress)] = []
    private var events: [ClientTransportEvent] = []
    private var dtlsStarted = false

    public init(
        local: ICECredentials, remote: ICECredentials, localCandidates: [ICECandidate], certificate: DTLSCertificate,
        remoteFingerprint: DTLSFingerprint, configuration: TransportConfiguration
    ) throws(DTLSError) {
        var iceConfiguration = ICEControllingAgent.Configuration()
        iceConfiguration.consentTimeout = configuration.consentTimeout
        self.ice = ICEControllingAgent(local: local, remote: remote, localCandidates: localCandidates, configuration: iceConfiguration)
        self.dtls = try DTLSEndpoint(
            role: .client, certificate: certificate, remoteFingerprint: remoteFingerprint,
            profiles: configuration.srtpProfiles, mtu: configuration.mtu)
    }

    public var isConnected: Bool { srtp != nil && !isClosed }

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
        guard !isClosed else { return drop(.closed) }
        let datagram = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<length])
        // Only the selected relay address may carry DTLS and media: the ICE check proved it.
        let fromSelected = selected.map { $0.remote == source } ?? false
        switch PacketClass.classify(datagram) {
        case .stun:
            ice.handleSTUN(datagram, localIndex: localIndex, from: source, now: now)
            drainICE(now: now)
            return .handled
        case .dtls:
            guard fromSelected else { return drop(.unvalidatedSource) }
            dtls.handleDatagram(datagram, now: now)
            drainDTLS()
            return .handled
        case .rtp:
            guard fromSelected else { return drop(.unvalidatedSource) }
            guard let srtp else { return drop(.notConnected) }
            return counted(srtp.unprotect(buffer, length: length, rtcp: false, stats: &stats))
        case .rtcp:
            guard fromSelected else { return drop(.unvalidatedSource) }
            guard let srtp else { return drop(.notConnected) }
            return counted(srtp.unprotect(buffer, length: length, rtcp: true, stats: &stats))
        case .zrtp, .turnChannel, .unknown:
            return drop(.unknownPacket)
        }
    }

    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        guard let srtp, !isClosed else { return nil }
        return srtp.protect(buffer, length: length, rtcp: false, stats: &stats)
    }

    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        guard let srtp, !isClosed else { return nil }
        return srtp.protect(buffer, length: length, rtcp: true, stats: &stats)
    }

    /// The next control datagram (STUN check, DTLS flight) and the local candidate to send it from.
    public func pollTransmit() -> (bytes: [UInt8], localIndex: Int, destination: TransportAddress)? {
        outbox.isEmpty ? nil : outbox.removeFirst()
    }

    public func pollEvent() -> ClientTransportEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    public var nextDeadline: Instant? {
        guard !isClosed else { return nil }
        return [ice.nextDeadline, dtls.nextTimeout].compactMap { $0 }.min()
    }

    public func handleTimeout(now: Instant) {
        guard !isClosed else { return }
        drainICE(now: now)
        if let t = dtls.nextTimeout, t <= now {
            dtls.handleTimeout(now: now)
            drainDTLS()
        }
    }

    /// Sends close_notify and stops.
    public func close(reason: String) {
        guard !isClosed else { return }
        dtls.close()
        flushDTLS()
        isClosed = true
        events.append(.closed(reason))
    }

    public var srtpCounters: SRTPCounters { srtp?.counters ?? SRTPCounters() }

    // MARK: - Internals

    private func drop(_ reason: TransportDropReason) -> TransportReceive {
        drops[reason, default: 0] += 1
        return .dropped(reason)
    }

    /// Records a drop the SRTP step reported.
    private func counted(_ result: TransportReceive) -> TransportReceive {
        if case .dropped(let reason) = result { drops[reason, default: 0] += 1 }
        return result
    }

    private func drainICE(now: Instant) {
        while let output = ice.poll(now: now) {
            switch output {
            case .transmit(let bytes, let localIndex, let destination):
                outbox.append((bytes, localIndex, destination))
            case .connected(let localIndex, let remote):
                selected = (localIndex, remote)
                events.append(.selected(localIndex: localIndex, remote: remote))
                if !dtlsStarted {
                    dtlsStarted = true
                    dtls.start(now: now)  // the client speaks first (ClientHello)
                    drainDTLS()
                }
            case .failed:
                isClosed = true
                events.append(.failed("ICE: every candidate pair failed"))
            case .consentLost:
                isClosed = true
                events.append(.closed("ICE consent lost"))
            }
        }
    }

    private func drainDTLS() {
        flushDTLS()
        while let event = dtls.pollEvent() {
            switch event {
            case .connected(let keys):
                do {
                    srtp = try SRTPContext(keys: keys)
                    events.append(.connected(keys.profile))
                } catch {
                    events.append(.failed("SRTP setup failed: \(error)"))
                }
            case .failed(let failure):
                isClosed = true
                events.append(.failed("DTLS: \(failure)"))
            case .closed:
                isClosed = true
                events.append(.closed("DTLS close_notify"))
            }
        }
        flushDTLS()
    }

    private func flushDTLS() {
        guard let selected else {
            while dtls.pollDatagram() != nil {}
            return
        }
        while let datagram = dtls.pollDatagram() {
            outbox.append((datagram, selected.localIndex, selected.remote))
        }
    }
}
