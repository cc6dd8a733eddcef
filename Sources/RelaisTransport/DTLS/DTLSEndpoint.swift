internal import COpenSSL
public import RelaisWire

/// Which side of the DTLS handshake this endpoint plays (RFC 5763 §5: `a=setup`).
public enum DTLSRole: Sendable {
    /// `a=setup:passive`: waits for the ClientHello. The relay is always the server.
    case server
    /// `a=setup:active`: sends the ClientHello. The headless client.
    case client
}

/// Why a handshake failed; carried in the `.failed` event and logged.
public enum DTLSFailure: Equatable, Sendable, CustomStringConvertible {
    /// The peer's certificate does not hash to the fingerprint its SDP announced.
    case fingerprintMismatch(expected: DTLSFingerprint, actual: DTLSFingerprint?)
    /// The handshake finished without a `use_srtp` profile both sides support.
    case noSRTPProfile
    /// OpenSSL refused the handshake (alert, bad record, unsupported version...).
    case handshake(String)

    public var description: String {
        switch self {
        case .fingerprintMismatch(let expected, let actual):
            "peer certificate fingerprint mismatch: SDP says \(expected), certificate is \(actual.map(\.description) ?? "absent")"
        case .noSRTPProfile: "no SRTP protection profile negotiated"
        case .handshake(let why): "handshake failed: \(why)"
        }
    }
}

public enum DTLSEvent: Equatable, Sendable {
    /// Handshake complete, peer authenticated by fingerprint, SRTP keys exported.
    case connected(SRTPKeyingMaterial)
    case failed(DTLSFailure)
    /// The peer sent close_notify.
    case closed
}

public enum DTLSState: Equatable, Sendable {
    case new, handshaking, connected, failed, closed
}

/// One DTLS 1.2 association for DTLS-SRTP, driven through OpenSSL memory BIOs (sans-IO).
///
/// OpenSSL never touches a socket: datagrams go in through `handleDatagram`, flights come out of
/// `pollDatagram`, already split into datagrams no larger than the MTU. Timers are the owner's:
/// `nextTimeout` converts OpenSSL's remaining retransmission time onto the owner's clock, and
/// `handleTimeout` is called when it is due. (OpenSSL 3.0 still checks expiry against its own
/// wall clock, so under a fake clock a retransmission happens only once real time has also
/// passed; handshakes in tests without loss never need one.)
public final class DTLSEndpoint {
    public let role: DTLSRole
    public let remoteFingerprint: DTLSFingerprint
    public let mtu: Int
    public private(set) var state: DTLSState = .new
    public private(set) var selectedProfile: SRTPProfile?
    public private(set) var datagramsIn = 0
    public private(set) var datagramsOut = 0
    public private(set) var handshakeFailures = 0

    /// Shared with other endpoints; kept alive as long as this one.
    private let context: DTLSContext
    private let ssl: OpaquePointer  // SSL*
    private let readBIO: OpaquePointer  // BIO*, owned by ssl
    private let writeBIO: OpaquePointer
    private var outbox: [[UInt8]] = []
    private var events: [DTLSEvent] = []
    private var timeoutDeadline: Instant?

    /// An endpoint with a context of its own (a client, a test). A relay shares one context
    /// between all its transports: `init(role:context:remoteFingerprint:mtu:)`.
    public convenience init(
        role: DTLSRole, certificate: DTLSCertificate, remoteFingerprint: DTLSFingerprint,
        profiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80], mtu: Int = 1200
    ) throws(DTLSError) {
        try self.init(role: role, context: DTLSContext(certificate: certificate, profiles: profiles), remoteFingerprint: remoteFingerprint, mtu: mtu)
    }

    /// An endpoint whose certificate, cipher suites and SRTP profiles are `context`'s.
    public init(role: DTLSRole, context: DTLSContext, remoteFingerprint: DTLSFingerprint, mtu: Int = 1200) throws(DTLSError) {
        self.role = role
        self.remoteFingerprint = remoteFingerprint
        self.mtu = mtu
        ERR_clear_error()
        guard let ssl = SSL_new(context.context) else { throw .context("SSL_new: \(openSSLErrors())") }
        guard let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            let why = openSSLErrors()
            SSL_free(ssl)
            throw .context("BIO_new: \(why)")
        }
        // An empty read BIO means "no data yet", not end of stream.
        _ = relais_bio_set_mem_eof_return(readBIO, -1)
        _ = relais_bio_set_mem_eof_return(writeBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO)
        relais_ssl_no_query_mtu(ssl)
        _ = relais_ssl_set_mtu(ssl, mtu)
        switch role {
        case .server: SSL_set_accept_state(ssl)
        case .client: SSL_set_connect_state(ssl)
        }
        self.context = context
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
    }

    deinit {
        SSL_free(ssl)  // frees both BIOs; the context is freed with its last endpoint
    }

    /// Starts the handshake. A client sends its ClientHello; a server just waits.
    public func start(now: Instant) {
        guard state == .new else { return }
        state = .handshaking
        if role == .client { driveHandshake(now: now) }
    }

    /// Feeds one received DTLS datagram.
    public func handleDatagram(_ datagram: UnsafeRawBufferPointer, now: Instant) {
        datagramsIn += 1
        switch state {
        case .failed, .closed:
            return
        case .new:
            state = .handshaking
        case .handshaking, .connected:
            break
        }
        guard datagram.count > 0, datagram.count <= 65_535 else { return }
        _ = BIO_write(readBIO, datagram.baseAddress, Int32(datagram.count))
        if state == .handshaking {
            driveHandshake(now: now)
        } else {
            readApplication()
        }
    }

    /// The next datagram to send, if any.
    public func pollDatagram() -> [UInt8]? {
        guard !outbox.isEmpty else { return nil }
        datagramsOut += 1
        return outbox.removeFirst()
    }

    public func pollEvent() -> DTLSEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    /// When the owner should call `handleTimeout` (a flight may need retransmitting).
    public var nextTimeout: Instant? {
        state == .handshaking ? timeoutDeadline : nil
    }

    /// Retransmits the last flight if OpenSSL's timer has expired.
    public func handleTimeout(now: Instant) {
        guard state == .handshaking else { return }
        ERR_clear_error()
        if relais_dtls_handle_timeout(ssl) < 0 {
            fail(.handshake("retransmission limit: \(openSSLErrors())"))
            return
        }
        collectOutput()
        updateTimeout(now: now)
    }

    /// Sends close_notify (once connected) and stops.
    public func close() {
        guard state == .connected || state == .handshaking else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        collectOutput()
        state = .closed
    }

    // MARK: - Internals

    private func driveHandshake(now: Instant) {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        collectOutput()
        if result == 1 {
            completeHandshake()
            return
        }
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            updateTimeout(now: now)
        default:
            fail(.handshake(openSSLErrors()))
        }
    }

    private func completeHandshake() {
        timeoutDeadline = nil
        guard let peer = SSL_get1_peer_certificate(ssl) else {
            fail(.fingerprintMismatch(expected: remoteFingerprint, actual: nil))
            return
        }
        defer { X509_free(peer) }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let md = remoteFingerprint.algorithm == "sha-1" ? EVP_sha1() : remoteFingerprint.algorithm == "sha-384" ? EVP_sha384() : remoteFingerprint.algorithm == "sha-512" ? EVP_sha512() : EVP_sha256()
        guard X509_digest(peer, md, &digest, &length) == 1 else {
            fail(.handshake("digest of peer certificate failed"))
            return
        }
        let actual = DTLSFingerprint(algorithm: remoteFingerprint.algorithm, bytes: Array(digest.prefix(Int(length))))
        guard actual == remoteFingerprint else {
            fail(.fingerprintMismatch(expected: remoteFingerprint, actual: actual))
            return
        }
        guard let selected = SSL_get_selected_srtp_profile(ssl), let profile = SRTPProfile(id: UInt16(truncatingIfNeeded: selected.pointee.id)) else {
            fail(.noSRTPProfile)
            return
        }
        let total = 2 * (profile.keyLength + profile.saltLength)
        var exported = [UInt8](repeating: 0, count: total)
        let label = "EXTRACTOR-dtls_srtp"
        guard SSL_export_keying_material(ssl, &exported, total, label, label.utf8.count, nil, 0, 0) == 1 else {
            fail(.handshake("keying material export failed: \(openSSLErrors())"))
            return
        }
        selectedProfile = profile
        state = .connected
        events.append(.connected(SRTPKeyingMaterial(profile: profile, exported: exported, isClient: role == .client)))
        for i in exported.indices { exported[i] = 0 }
    }

    /// After the handshake only alerts matter: WebRTC data channels are not carried.
    private func readApplication() {
        ERR_clear_error()
        var sink = [UInt8](repeating: 0, count: 2048)
        while true {
            let n = SSL_read(ssl, &sink, Int32(sink.count))
            if n > 0 { continue }  // application data (SCTP) is discarded
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_ZERO_RETURN {
                state = .closed
                events.append(.closed)
            }
            break
        }
        collectOutput()
    }

    private func fail(_ failure: DTLSFailure) {
        guard state != .failed else { return }
        state = .failed
        handshakeFailures += 1
        timeoutDeadline = nil
        events.append(.failed(failure))
    }

    private func updateTimeout(now: Instant) {
        var microseconds: Int64 = 0
        if relais_dtls_get_timeout(ssl, &microseconds) == 1 {
            timeoutDeadline = now + .microseconds(max(microseconds, 0))
        } else {
            timeoutDeadline = nil
        }
    }

    /// Moves what OpenSSL wrote into datagrams, packing whole records up to the MTU.
    ///
    /// A memory BIO concatenates records, so boundaries are recovered from the 13-byte DTLS record
    /// header (RFC 6347 §4.1: type, version, epoch, sequence number, 16-bit length).
    private func collectOutput() {
        let pending = Int(BIO_ctrl_pending(writeBIO))
        guard pending > 0 else { return }
        var bytes = [UInt8](repeating: 0, count: pending)
        let n = Int(BIO_read(writeBIO, &bytes, Int32(pending)))
        guard n > 0 else { return }
        var datagram: [UInt8] = []
        var offset = 0
        while offset + 13 <= n {
            let length = 13 + (Int(bytes[offset + 11]) << 8 | Int(bytes[offset + 12]))
            guard offset + length <= n else { break }  // OpenSSL wrote a partial record: cannot happen
            if !datagram.isEmpty, datagram.count + length > mtu {
                outbox.append(datagram)
                datagram = []
            }
            datagram.append(contentsOf: bytes[offset..<offset + length])
            offset += length
        }
        if !datagram.isEmpty { outbox.append(datagram) }
    }
}
