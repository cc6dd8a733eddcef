internal import CSRTP

/// Why SRTP refused a packet. Every case is counted and the packet dropped.
public enum SRTPError: Error, Hashable, Sendable {
    /// The authentication tag did not verify (forged, corrupted, or keyed for someone else).
    case authenticationFailed
    /// The packet index was already seen or is older than the replay window (RFC 3711 §3.3.2).
    case replayed
    /// Too short to hold a header and tag, or a header that runs past the packet.
    case malformed
    /// No room after the packet for the authentication tag.
    case noRoomForTag
    /// A session could not be created (bad key length, out of memory): a setup error.
    case setupFailed(code: Int32)
    /// A new SSRC arrived on an outbound session whose fixed-capacity SSRC table is full (never
    /// evicted outbound, which would reuse keystream).
    case ssrcTableFull
    /// An outbound SSRC whose state was reclaimed after it was retired: sending under it again
    /// would restart its index and reuse keystream (RFC 3711 §9.1).
    case ssrcRetired
    /// Any other failure (an OpenSSL call failed, a libsrtp status, an exhausted SRTCP index).
    case other(code: Int32)

    init(status: srtp_err_status_t) {
        switch status {
        case srtp_err_status_auth_fail: self = .authenticationFailed
        case srtp_err_status_replay_fail, srtp_err_status_replay_old: self = .replayed
        case srtp_err_status_bad_param, srtp_err_status_parse_err: self = .malformed
        default: self = .other(code: Int32(bitPattern: status.rawValue))
        }
    }
}

/// libsrtp's global initialisation, run once per process before any session is created.
enum SRTPLibrary {
    static let initialised: Bool = srtp_init() == srtp_err_status_ok
}

/// One direction of SRTP and SRTCP for a transport (RFC 3711, RFC 7714).
///
/// All SSRCs of the direction share it, as BUNDLE puts every stream of a peer on one DTLS
/// association. Packets are transformed in place: unprotect shortens the packet, protect appends
/// the tag, so the caller's buffer must have `SRTPSession.maxTrailer` spare bytes after the packet.
/// Every profile runs on `NativeSRTPSession` (OpenSSL EVP and SHA-1: no allocation or lock per
/// packet); libsrtp carries a session only as the tests' oracle. Not thread-safe: a session
/// belongs to the event loop of its transport.
public final class SRTPSession {
    public enum Direction: Sendable { case inbound, outbound }

    /// Bytes protect may add: RTP tag (16 for GCM) or SRTCP index plus tag (4 + 16).
    public static let maxTrailer = 4 + 16 + 16

    public let profile: SRTPProfile
    public let direction: Direction
    /// The relay's implementation; nil on the libsrtp oracle.
    private let native: NativeSRTPSession?
    /// libsrtp (`ssrc_any_inbound` / `ssrc_any_outbound`): the tests' oracle only.
    private var session: srtp_t?

    /// SSRCs with state per session: inbound evicts the least recently used beyond it, outbound
    /// refuses new ones (`.ssrcTableFull`) unless a retired one can be reclaimed.
    static let inboundSSRCs = 64
    static let outboundSSRCs = 256

    /// SSRCs with state in the native session (tests); nil on libsrtp.
    var nativeSSRCCount: Int? { native?.ssrcCount }

    /// Which implementation carries a session. `.libsrtp` is the tests' oracle only.
    enum Backend { case native, libsrtp }

    /// Creates a session keyed with a master key and salt from the DTLS-SRTP exporter.
    public convenience init(profile: SRTPProfile, key: [UInt8], salt: [UInt8], direction: Direction, replayWindow: UInt = 1024) throws(SRTPError) {
        try self.init(profile: profile, key: key, salt: salt, direction: direction, replayWindow: replayWindow, backend: .native)
    }

    /// A session on libsrtp (Debian's build), the reference the native one is measured and tested
    /// against; the relay never uses it.
    public static func libsrtpReference(profile: SRTPProfile, key: [UInt8], salt: [UInt8], direction: Direction) throws(SRTPError) -> SRTPSession {
        try SRTPSession(profile: profile, key: key, salt: salt, direction: direction, backend: .libsrtp)
    }

    init(profile: SRTPProfile, key: [UInt8], salt: [UInt8], direction: Direction, replayWindow: UInt = 1024, backend: Backend,
         ssrcCapacity: Int? = nil) throws(SRTPError) {
        self.profile = profile
        self.direction = direction
        if backend == .native {
            guard replayWindow <= 0x7fff else { throw .setupFailed(code: -2) }
            let inbound = direction == .inbound
            native = try NativeSRTPSession(
                profile: profile, masterKey: key, masterSalt: salt, inbound: inbound, replayWindow: Int(replayWindow),
                capacity: ssrcCapacity ?? (inbound ? Self.inboundSSRCs : Self.outboundSSRCs))
            session = nil
            return
        }
        native = nil
        guard SRTPLibrary.initialised else { throw .setupFailed(code: -1) }
        var policy = srtp_policy_t()
        switch profile {
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        case .aes128CMSHA1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        case .aes128CMSHA1_32:
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        }
        policy.ssrc.type = direction == .inbound ? ssrc_any_inbound : ssrc_any_outbound
        policy.window_size = replayWindow
        // Retransmissions from the relay's cache re-send a packet index already protected once.
        policy.allow_repeat_tx = direction == .outbound ? 1 : 0
        var master = key + salt
        var created: srtp_t?
        let status = master.withUnsafeMutableBufferPointer { buffer -> srtp_err_status_t in
            policy.key = buffer.baseAddress
            return srtp_create(&created, &policy)
        }
        // Do not leave key material in freed memory longer than needed.
        for i in master.indices { master[i] = 0 }
        guard status == srtp_err_status_ok, let created else {
            throw .setupFailed(code: Int32(bitPattern: status.rawValue))
        }
        self.session = created
    }

    /// The owner stopped sending under `ssrc` (a removed consumer): its state may be reclaimed
    /// when a new SSRC needs room, after which `ssrc` is refused (`.ssrcRetired`) rather than
    /// restarted at index 0. Sending under it before that continues its indices. (The libsrtp
    /// reference keeps every stream it ever made.)
    public func retireOutbound(ssrc: UInt32) {
        native?.retire(ssrc)
    }

    deinit {
        if let session { srtp_dealloc(session) }
    }

    /// Encrypts and authenticates an RTP packet of `length` bytes at the start of `buffer` in place.
    /// Returns the protected length.
    @inline(__always)
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let native { return try native.protectRTP(buffer, length: length) }
        guard buffer.count - length >= Self.maxTrailer else { throw .noRoomForTag }
        var len = Int32(length)
        let status = srtp_protect(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(len)
    }

    /// Verifies and decrypts an SRTP packet of `length` bytes in place. Returns the RTP length.
    @inline(__always)
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let native { return try native.unprotectRTP(buffer, length: length) }
        guard length >= 12, length <= buffer.count else { throw .malformed }
        var len = Int32(length)
        let status = srtp_unprotect(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(len)
    }

    /// Protects an RTCP compound packet in place (adds the SRTCP index and tag).
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let native { return try native.protectRTCP(buffer, length: length) }
        guard buffer.count - length >= Self.maxTrailer else { throw .noRoomForTag }
        var len = Int32(length)
        let status = srtp_protect_rtcp(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(len)
    }

    /// Verifies and decrypts an SRTCP packet in place. Returns the RTCP length.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let native { return try native.unprotectRTCP(buffer, length: length) }
        guard length >= 8 + 4, length <= buffer.count else { throw .malformed }
        var len = Int32(length)
        let status = srtp_unprotect_rtcp(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(len)
    }
}

/// Counters of SRTP refusals, kept per transport and summed for metrics.
public struct SRTPCounters: Sendable, Equatable {
    public var authenticationFailures = 0
    public var replays = 0
    public var malformed = 0
    public var other = 0

    public init() {}

    public mutating func count(_ error: SRTPError) {
        switch error {
        case .authenticationFailed: authenticationFailures += 1
        case .replayed: replays += 1
        case .malformed, .noRoomForTag: malformed += 1
        case .setupFailed, .ssrcTableFull, .ssrcRetired, .other: other += 1
        }
    }

    public var total: Int { authenticationFailures + replays + malformed + other }
}

/// Both directions of SRTP for one transport, keyed from the DTLS handshake.
public final class SRTPContext {
    public let inbound: SRTPSession
    public let outbound: SRTPSession
    public var counters = SRTPCounters()

    public init(keys: SRTPKeyingMaterial) throws(SRTPError) {
        inbound = try SRTPSession(profile: keys.profile, key: keys.remoteKey, salt: keys.remoteSalt, direction: .inbound)
        outbound = try SRTPSession(profile: keys.profile, key: keys.localKey, salt: keys.localSalt, direction: .outbound)
    }

    public var profile: SRTPProfile { outbound.profile }
}
