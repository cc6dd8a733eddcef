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

/// What became of a datagram handed to a transport's `handleDatagram`.
public enum TransportReceive: Equatable, Sendable {
    /// Decrypted RTP of `length` bytes, in place at the start of the buffer.
    case rtp(length: Int)
    /// Decrypted RTCP compound of `length` bytes, in place.
    case rtcp(length: Int)
    /// STUN or DTLS, consumed by the transport (responses wait in `pollTransmit`).
    case handled
    case dropped(TransportDropReason)
}

/// A change of a `DTLSSRTPSession`'s state; each transport passes it on as its own event.
public enum DTLSSRTPEvent: Equatable, Sendable {
    /// DTLS completed, the peer's certificate matched its fingerprint and SRTP is keyed.
    case connected(SRTPProfile)
    /// The session is unusable and closed: DTLS failed (a fatal alert, a handshake error, a
    /// certificate that does not match the SDP fingerprint, no common SRTP profile) or SRTP could
    /// not be keyed.
    case failed(String)
    /// The peer closed DTLS, the owner closed the session, or the path under it was lost.
    case closed(String)
}

/// A transport's event type, which carries a `DTLSSRTPEvent` as the case of the same name (the
/// enum cases witness these requirements, SE-0280), so both transports report the session alike.
protocol DTLSSRTPEventCarrier {
    static func connected(_ profile: SRTPProfile) -> Self
    static func failed(_ reason: String) -> Self
    static func closed(_ reason: String) -> Self
}

/// The DTLS-SRTP core both transports wrap (the relay's `WebRTCTransport`, ICE-lite and DTLS
/// server; the client's `ClientTransport`, controlling ICE and DTLS client): one DTLS association,
/// the SRTP contexts keyed from it, and the counting of everything it drops. Sans-IO: bytes and
/// time go in, DTLS datagrams, events and a deadline come out; the owner's ICE agent decides which
/// addresses may carry DTLS and media and where the datagrams go.
///
/// Why one core: the two transports used to repeat this glue and had drifted (a DTLS failure closed
/// the client's transport but left the relay's open). Here there is one behaviour for each ending:
/// - DTLS failure (a fatal alert or handshake error from OpenSSL, a peer certificate that does not
///   hash to the SDP fingerprint, RFC 5763 §5, no common `use_srtp` profile) and SRTP
///   keying failure are fatal: the session closes (sending close_notify if DTLS is still up) and
///   reports `.failed("DTLS: …")` or `.failed("SRTP setup failed: …")` once. Media is never
///   accepted afterwards, and the owner's transport is closed with it.
/// - The peer's close_notify closes it with `.closed("DTLS close_notify")`; `close(reason:)` sends
///   close_notify and reports `.closed(reason)`; `pathLost(_:)` (ICE failure, consent expiry)
///   stops without a close_notify, which would have no path to travel.
///
/// Keys: once the handshake completes, `DTLSEndpoint` exports `2 * (key + salt)` bytes with the
/// RFC 5705 exporter under the label "EXTRACTOR-dtls_srtp" (RFC 5764 §4.2) and this session keys an
/// `SRTPContext` from them: inbound with the peer's key and salt, outbound with its own.
///
/// Media is decrypted and encrypted in place in the caller's buffer; the hot path allocates
/// nothing (the inbound SSRC table is reserved up front). Owned by one event loop; not Sendable.
public final class DTLSSRTPSession {
    /// Packets and bytes received (after decryption) and sent (before encryption).
    public struct Stats: Sendable, Equatable {
        public var rtpIn = 0, rtcpIn = 0, rtpOut = 0, rtcpOut = 0
        public var bytesIn = 0, bytesOut = 0
    }

    public let dtls: DTLSEndpoint
    /// Both directions of SRTP, once DTLS exported keys.
    public private(set) var srtp: SRTPContext?
    public private(set) var isClosed = false
    /// Every datagram the session or its owner dropped, by reason.
    public private(set) var drops: [TransportDropReason: Int] = [:]
    public private(set) var stats = Stats()

    /// SSRCs that authenticated on this session (at most `maxInboundSSRCs`), and the last one matched.
    private var inboundSSRCs: [UInt32] = []
    private var inboundHit = 0
    private let maxInboundSSRCs: Int?
    private var events: [DTLSSRTPEvent] = []

    /// A session over `dtls`. With `maxInboundSSRCs`, SRTP and SRTCP under a new SSRC are dropped
    /// (`.ssrcLimit`) before decryption once that many SSRCs authenticated: each costs replay
    /// state, and a peer must not be able to grow it without bound. Without it, every SSRC is
    /// decrypted (the client, whose only peer is the relay).
    public init(dtls: DTLSEndpoint, maxInboundSSRCs: Int? = nil) {
        self.dtls = dtls
        self.maxInboundSSRCs = maxInboundSSRCs.map { max($0, 1) }
        if let maxInboundSSRCs = self.maxInboundSSRCs { inboundSSRCs.reserveCapacity(maxInboundSSRCs) }
    }

    public var isConnected: Bool { srtp != nil && !isClosed }

    /// The SSRCs that authenticated on this session (tests, diagnostics; 0 without a cap).
    public var inboundSSRCCount: Int { inboundSSRCs.count }

    public var srtpCounters: SRTPCounters { srtp?.counters ?? SRTPCounters() }

    /// Starts the handshake: the DTLS client sends its ClientHello (once ICE selected a pair); a
    /// server waits for one. Later calls do nothing.
    public func start(now: Instant) {
        guard !isClosed else { return }
        dtls.start(now: now)
        handleDTLSEvents()
    }

    /// Handles a datagram that is not STUN (the owner's ICE agent takes those). `validated` says
    /// whether its source passed an ICE check: only such an address may carry DTLS and media.
    /// DTLS goes to the handshake; SRTP and SRTCP are decrypted in place in `buffer`.
    @inline(__always)
    public func handleDatagram(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, kind: PacketClass, validated: Bool, now: Instant
    ) -> TransportReceive {
        guard !isClosed else { return drop(.closed) }
        switch kind {
        case .dtls:
            guard validated else { return drop(.unvalidatedSource) }
            dtls.handleDatagram(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<length]), now: now)
            handleDTLSEvents()
            return .handled
        case .rtp, .rtcp:
            guard validated else { return drop(.unvalidatedSource) }
            guard let srtp else { return drop(.notConnected) }
            return unprotect(srtp, buffer, length: length, rtcp: kind == .rtcp)
        case .stun, .zrtp, .turnChannel, .unknown:
            return drop(.unknownPacket)
        }
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

    /// The owner stopped sending under `ssrc`: its outbound SRTP state may be reclaimed for a new
    /// SSRC (`SRTPSession.retireOutbound`).
    public func retireOutbound(ssrc: UInt32) {
        srtp?.outbound.retireOutbound(ssrc: ssrc)
    }

    /// Counts a drop the owner decided (STUN refusals, for example) and returns it.
    public func drop(_ reason: TransportDropReason) -> TransportReceive {
        drops[reason, default: 0] += 1
        return .dropped(reason)
    }

    /// When the owner should call `handleTimeout` (a DTLS flight may need retransmitting).
    public var nextTimeout: Instant? {
        isClosed ? nil : dtls.nextTimeout
    }

    /// Retransmits the last DTLS flight if its timer is due; a handshake that ran out of
    /// retransmissions fails the session.
    public func handleTimeout(now: Instant) {
        guard !isClosed, let due = dtls.nextTimeout, due <= now else { return }
        dtls.handleTimeout(now: now)
        handleDTLSEvents()
    }

    /// Sends close_notify (RFC 5246 §7.2.1) and stops; reports `.closed(reason)`.
    public func close(reason: String) {
        stop(.closed(reason), notifyPeer: true)
    }

    /// The path under the association is gone (every ICE pair failed, consent expired): stops
    /// without close_notify, which could not reach the peer, and reports `event`.
    public func pathLost(_ event: DTLSSRTPEvent) {
        stop(event, notifyPeer: false)
    }

    /// The next DTLS datagram to send (a flight, an alert, close_notify), on the owner's
    /// selected path. An owner with no path yet discards it (the peer retransmits).
    public func pollDatagram() -> [UInt8]? {
        dtls.pollDatagram()
    }

    public func pollEvent() -> DTLSSRTPEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    /// Hands everything pending to a transport: each DTLS datagram to `send` (which addresses it on
    /// the transport's path), each event, in order, into the transport's own `events`.
    func drain<Event: DTLSSRTPEventCarrier>(into events: inout [Event], send: ([UInt8]) -> Void) {
        while let datagram = dtls.pollDatagram() { send(datagram) }
        while let event = pollEvent() {
            switch event {
            case .connected(let profile): events.append(.connected(profile))
            case .failed(let reason): events.append(.failed(reason))
            case .closed(let reason): events.append(.closed(reason))
            }
        }
    }

    // MARK: - Internals

    /// Records a drop the SRTP step reported.
    private func counted(_ result: TransportReceive) -> TransportReceive {
        if case .dropped(let reason) = result { drops[reason, default: 0] += 1 }
        return result
    }

    /// Decrypts, under the inbound SSRC cap if there is one: a packet under a new SSRC is dropped
    /// when the cap is reached, and a new SSRC is admitted only once a packet of it authenticated
    /// (so nobody without the keys can fill the table).
    @inline(__always)
    private func unprotect(_ srtp: SRTPContext, _ buffer: UnsafeMutableRawBufferPointer, length: Int, rtcp: Bool) -> TransportReceive {
        let offset = rtcp ? 4 : 8
        guard let maxInboundSSRCs, length >= offset + 4, length <= buffer.count, let base = buffer.baseAddress else {
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

    /// Turns what the DTLS endpoint reported into this session's state and events.
    private func handleDTLSEvents() {
        while let event = dtls.pollEvent() {
            switch event {
            case .connected(let keys):
                do {
                    srtp = try SRTPContext(keys: keys)
                    events.append(.connected(keys.profile))
                } catch {
                    fail("SRTP setup failed: \(error)")
                }
            case .failed(let failure):
                fail("DTLS: \(failure)")
            case .closed:
                stop(.closed("DTLS close_notify"), notifyPeer: false)
            }
        }
    }

    /// A fatal error: close_notify if DTLS is still up (SRTP keying failed after the handshake),
    /// then closed, reported once as `.failed(reason)`.
    private func fail(_ reason: String) {
        stop(.failed(reason), notifyPeer: true)
    }

    /// Every ending goes through here: the session closes once and reports how.
    private func stop(_ event: DTLSSRTPEvent, notifyPeer: Bool) {
        guard !isClosed else { return }
        if notifyPeer { dtls.close() }  // nothing is sent unless DTLS is handshaking or connected
        isClosed = true
        events.append(event)
    }
}

/// The earlier of two optional deadlines (the ICE agent's and the session's).
func earliest(_ a: Instant?, _ b: Instant?) -> Instant? {
    switch (a, b) {
    case (let a?, let b?): min(a, b)
    case (let a?, nil): a
    case (nil, let b?): b
    case (nil, nil): nil
    }
}
