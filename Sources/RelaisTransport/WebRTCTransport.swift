public import RelaisWire

/// Why a transport dropped a datagram. The owner counts each one; none affects other transports.
public enum TransportDropReason: Hashable, Sendable {
    /// DTLS or media from an address that never passed an ICE check.
    case unvalidatedSource
    /// SRTP or SRTCP before DTLS produced keys.
    case notConnected
    case stun(ICEDropReason)
    case srtp(SRTPError)
    /// A first byte that RFC 7983 assigns to nothing WebRTC sends here (ZRTP, TURN channels, junk).
    case unknownPacket
    case closed
    /// SRTP or SRTCP under a new SSRC when the transport already holds state for
    /// `TransportConfiguration.maxInboundSSRCs` of them.
    case ssrcLimit
}

/// What became of a datagram handed to `WebRTCTransport.handleDatagram`.
public enum TransportReceive: Equatable, Sendable {
    /// Decrypted RTP of `length` bytes, in place at the start of the buffer.
    case rtp(length: Int)
    /// Decrypted RTCP compound of `length` bytes, in place.
    case rtcp(length: Int)
    /// STUN or DTLS, consumed by the transport (responses wait in `pollTransmit`).
    case handled
    case dropped(TransportDropReason)
}

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

/// One peer's secure transport at the relay: ICE-lite, DTLS server and SRTP, sans-IO.
///
/// The media loop hands it every datagram the port router attributed to it; it answers STUN,
/// drives DTLS, decrypts SRTP in place and returns what the payload is. Control datagrams it
/// produces (STUN responses, DTLS flights) wait in `pollTransmit`; media is protected on demand by
/// the forwarding code through `protectRTP`/`protectRTCP`. Owned by one event loop; not Sendable.
public final class WebRTCTransport {
    public private(set) var ice: ICELiteAgent
    public let dtls: DTLSEndpoint
    public private(set) var srtp: SRTPContext?
    public private(set) var drops: [TransportDropReason: Int] = [:]
    public private(set) var isClosed = false
    /// Packets and bytes received (after decryption) and sent (before encryption).
    public private(set) var stats = Stats()

    public struct Stats: Sendable, Equatable {
        public var rtpIn = 0, rtcpIn = 0, rtpOut = 0, rtcpOut = 0
        public var bytesIn = 0, bytesOut = 0
    }

    private var outbox: [(bytes: [UInt8], destination: TransportAddress)] = []
    /// SSRCs that authenticated on this transport (at most `maxInboundSSRCs`), and the last one matched.
    private var inboundSSRCs: [UInt32] = []
    private var inboundHit = 0
    private let maxInboundSSRCs: Int
    private var events: [TransportEvent] = []
    private var dtlsStarted = false

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
        self.dtls = try DTLSEndpoint(role: .server, context: dtlsContext, remoteFingerprint: remoteFingerprint, mtu: configuration.mtu)
        maxInboundSSRCs = max(configuration.maxInboundSSRCs, 1)
        ice.armConsent(now: now)
        inboundSSRCs.reserveCapacity(maxInboundSSRCs)
    }

    /// The peer address media goes to.
    public var sendAddress: TransportAddress? { ice.sendAddress }

    public var isConnected: Bool { srtp != nil && !isClosed }

    /// Handles one datagram from `source`. SRTP and SRTCP are decrypted in place within `buffer`
    /// (whose first `length` bytes are the datagram); `scratch` receives nothing the caller must read.
    public func handleDatagram(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, from source: TransportAddress, now: Instant
    ) -> TransportReceive {
        guard !isClosed else { return drop(.closed) }
        let datagram = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<length])
        switch PacketClass.classify(datagram) {
        case .stun:
            return handleSTUN(datagram, from: source, now: now)
        case .dtls:
            guard ice.isValidated(source) else { return drop(.unvalidatedSource) }
            dtls.handleDatagram(datagram, now: now)
            drainDTLS(now: now)
            return .handled
        case .rtp:
            guard ice.isValidated(source) else { return drop(.unvalidatedSource) }
            guard let srtp else { return drop(.notConnected) }
            return unprotect(srtp, buffer, length: length, rtcp: false)
        case .rtcp:
            guard ice.isValidated(source) else { return drop(.unvalidatedSource) }
            guard let srtp else { return drop(.notConnected) }
            return unprotect(srtp, buffer, length: length, rtcp: true)
        case .zrtp, .turnChannel, .unknown:
            return drop(.unknownPacket)
        }
    }

    /// Decrypts under the inbound SSRC cap: a packet under a new SSRC is dropped when the cap is
    /// reached, and a new SSRC is admitted only once a packet of it authenticated (so nobody
    /// without the keys can fill the table).
    @inline(__always)
    private func unprotect(_ srtp: SRTPContext, _ buffer: UnsafeMutableRawBufferPointer, length: Int, rtcp: Bool) -> TransportReceive {
        let offset = rtcp ? 4 : 8
        guard length >= offset + 4, length <= buffer.count, let base = buffer.baseAddress else {
            return counted(srtp.unprotect(buffer, length: length, rtcp: rtcp, stats: &stats))
        }
        let ssrc = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        var known = inboundHit < inboundSSRCs.count && inboundSSRCs[inboundHit] == ssrc
        if !known, let i = inboundSSRCs.firstIndex(of: ssrc) {
            inboundHit = i
            known = true
        }
        if !known, inboundSSRCs.count >= maxInboundSSRCs { return drop(.ssrcLimit) }
        let result = counted(srtp.unprotect(buffer, length: length, rtcp: rtcp, stats: &stats))
        if !known {
            switch result {
            case .rtp, .rtcp:
                inboundSSRCs.append(ssrc)
                inboundHit = inboundSSRCs.count - 1
            default:
                break
            }
        }
        return result
    }

    /// Forgets a validated peer address (see `ICELiteAgent.forget`).
    public func forgetAddress(_ address: TransportAddress) {
        ice.forget(address)
    }

    /// The SSRCs that authenticated on this transport (tests, diagnostics).
    public var inboundSSRCCount: Int { inboundSSRCs.count }

    /// The relay stopped sending under `ssrc` on this transport (a removed consumer): its outbound
    /// SRTP state may be reclaimed for a new SSRC (`SRTPSession.retireOutbound`).
    public func retireOutbound(ssrc: UInt32) {
        srtp?.outbound.retireOutbound(ssrc: ssrc)
    }

    /// Encrypts an RTP packet in place for sending; nil (and counted) when not connected or refused.
    @inline(__always)
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        guard let srtp, !isClosed else { return nil }
        return srtp.protect(buffer, length: length, rtcp: false, stats: &stats)
    }

    /// Encrypts an RTCP compound in place for sending.
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        guard let srtp, !isClosed else { return nil }
        return srtp.protect(buffer, length: length, rtcp: true, stats: &stats)
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
        guard !isClosed else { return nil }
        switch (ice.nextDeadline, dtls.nextTimeout) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (nil, nil): return nil
        }
    }

    public func handleTimeout(now: Instant) {
        guard !isClosed else { return }
        ice.handleTimeout(now: now)
        while let event = ice.pollEvent() { handleICEEvent(event) }
        if let t = dtls.nextTimeout, t <= now {
            dtls.handleTimeout(now: now)
            drainDTLS(now: now)
        }
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
        guard !isClosed else { return }
        dtls.close()
        flushDTLSDatagrams()
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
        case .refuse(let reason, _), .drop(let reason): return drop(.stun(reason))
        }
    }

    private func handleICEEvent(_ event: ICELiteEvent) {
        switch event {
        case .selected(let address):
            events.append(.selected(address))
        case .consentExpired:
            isClosed = true
            events.append(.closed("ICE consent expired"))
        }
    }

    private func drainDTLS(now: Instant) {
        flushDTLSDatagrams()
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
                events.append(.failed("DTLS: \(failure)"))
            case .closed:
                isClosed = true
                events.append(.closed("DTLS close_notify"))
            }
        }
    }

    private func flushDTLSDatagrams() {
        guard let destination = ice.sendAddress else {
            while dtls.pollDatagram() != nil {}
            return
        }
        while let datagram = dtls.pollDatagram() {
            outbox.append((datagram, destination))
        }
    }
}
