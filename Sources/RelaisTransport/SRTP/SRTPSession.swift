internal import CSRTP

/// Why libsrtp refused a packet. Every case is counted and the packet dropped.
public enum SRTPError: Error, Hashable, Sendable {
    /// The authentication tag did not verify (forged, corrupted, or keyed for someone else).
    case authenticationFailed
    /// The packet index was already seen or is older than the replay window (RFC 3711 §3.3.2).
    case replayed
    /// Too short to hold a header and tag, or a header libsrtp cannot parse.
    case malformed
    /// No room after the packet for the authentication tag.
    case noRoomForTag
    /// libsrtp failed to create a session (bad key length, out of memory): a setup error.
    case setupFailed(code: Int32)
    /// A new SSRC arrived on an outbound session whose fixed-capacity SSRC table is full
    /// (native AES-GCM: never evicts outbound, which would reuse nonces).
    case ssrcTableFull
    /// An outbound SSRC whose state was reclaimed after it was retired: sending under it again
    /// would restart its index and reuse keystream (RFC 3711 §9.1).
    case ssrcRetired
    /// Any other libsrtp status.
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

/// One direction of SRTP and SRTCP for a transport, owning a libsrtp session (RFC 3711, RFC 7714).
///
/// All SSRCs of the direction share it (`ssrc_any_inbound` / `ssrc_any_outbound`), as BUNDLE puts
/// every stream of a peer on one DTLS association. Packets are transformed in place: unprotect
/// shortens the packet, protect appends the tag, so the caller's buffer must have
/// `SRTPSession.maxTrailer` spare bytes after the packet. Not thread-safe: a session belongs to the
/// event loop of its transport.
public final class SRTPSession {
    public enum Direction: Sendable { case inbound, outbound }

    /// Bytes protect may add: RTP tag (16 for GCM) or SRTCP index plus tag (4 + 16).
    public static let maxTrailer = 4 + 16 + 16

    public let profile: SRTPProfile
    public let direction: Direction
    private var session: srtp_t?
    /// AEAD_AES_128_GCM over OpenSSL EVP (no allocation or lock per packet); nil for libsrtp.
    private let gcm: AEADGCMSession?
    /// libsrtp outbound: the SSRCs it has streams for, bounded like the native table (libsrtp
    /// itself creates a stream for every new SSRC and never frees one).
    private var libsrtpOutbound: OutboundSSRCTable?

    /// SSRCs with state per session for AES-GCM: inbound evicts the least recently used beyond
    /// it, outbound refuses new ones (`.ssrcTableFull`).
    static let gcmInboundSSRCs = 64
    static let gcmOutboundSSRCs = 256

    /// SSRCs with state in the native AES-GCM session (tests); nil on libsrtp.
    var gcmSSRCCount: Int? { gcm?.ssrcCount }

    /// Which implementation carries a session. `.libsrtp` for AES-GCM is the tests' oracle only.
    enum Backend { case native, libsrtp }

    /// Creates a session keyed with a master key and salt from the DTLS-SRTP exporter.
    ///
    /// AEAD_AES_128_GCM runs on `AEADGCMSession` (OpenSSL EVP); AES_CM_128_HMAC_SHA1_80 on libsrtp.
    public convenience init(profile: SRTPProfile, key: [UInt8], salt: [UInt8], direction: Direction, replayWindow: UInt = 1024) throws(SRTPError) {
        try self.init(profile: profile, key: key, salt: salt, direction: direction, replayWindow: replayWindow, backend: .native)
    }

    init(profile: SRTPProfile, key: [UInt8], salt: [UInt8], direction: Direction, replayWindow: UInt = 1024, backend: Backend,
         ssrcCapacity: Int? = nil) throws(SRTPError) {
        self.profile = profile
        self.direction = direction
        if profile == .aeadAES128GCM, backend == .native {
            guard replayWindow <= 0x7fff else { throw .setupFailed(code: -2) }
            let inbound = direction == .inbound
            gcm = try AEADGCMSession(
                masterKey: key, masterSalt: salt, inbound: inbound, replayWindow: Int(replayWindow),
                capacity: ssrcCapacity ?? (inbound ? Self.gcmInboundSSRCs : Self.gcmOutboundSSRCs))
            session = nil
            return
        }
        gcm = nil
        guard SRTPLibrary.initialised else { throw .setupFailed(code: -1) }
        var policy = srtp_policy_t()
        switch profile {
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        case .aes128CMSHA1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
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
        // The relay's AES-CM sessions (and any session given a capacity); libsrtp's AES-GCM sessions
        // are the tests' oracle of libsrtp's own behaviour and stay unbounded.
        if direction == .outbound, profile == .aes128CMSHA1_80 || ssrcCapacity != nil {
            libsrtpOutbound = OutboundSSRCTable(capacity: ssrcCapacity ?? Self.gcmOutboundSSRCs)
        }
    }

    /// The owner stopped sending under `ssrc` (a removed consumer): its state may be reclaimed
    /// when a new SSRC needs room, after which `ssrc` is refused (`.ssrcRetired`) rather than
    /// restarted at index 0. Sending under it before that continues its indices.
    public func retireOutbound(ssrc: UInt32) {
        if let gcm { gcm.retire(ssrc) } else { libsrtpOutbound?.retire(ssrc) }
    }

    /// Admits `ssrc` to the libsrtp outbound table, freeing the stream of a reclaimed retired SSRC.
    @inline(__always)
    private func admitOutbound(_ buffer: UnsafeMutableRawBufferPointer, ssrcOffset: Int, length: Int) throws(SRTPError) {
        guard libsrtpOutbound != nil else { return }
        guard length >= ssrcOffset + 4, length <= buffer.count, let base = buffer.baseAddress else { throw .malformed }
        let ssrc = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: ssrcOffset, as: UInt32.self))
        if let reclaimed = try libsrtpOutbound?.use(ssrc) {
            _ = srtp_remove_stream(session, reclaimed.bigEndian)
        }
    }

    deinit {
        if let session { srtp_dealloc(session) }
    }

    /// Encrypts and authenticates an RTP packet of `length` bytes at the start of `buffer` in place.
    /// Returns the protected length.
    @inline(__always)
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let gcm { return try gcm.protectRTP(buffer, length: length) }
        guard buffer.count - length >= Self.maxTrailer else { throw .noRoomForTag }
        try admitOutbound(buffer, ssrcOffset: 8, length: length)
        var len = Int32(length)
        let status = srtp_protect(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(len)
    }

    /// Verifies and decrypts an SRTP packet of `length` bytes in place. Returns the RTP length.
    @inline(__always)
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let gcm { return try gcm.unprotectRTP(buffer, length: length) }
        guard length >= 12, length <= buffer.count else { throw .malformed }
        var len = Int32(length)
        let status = srtp_unprotect(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(len)
    }

    /// Protects an RTCP compound packet in place (adds the SRTCP index and tag).
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let gcm { return try gcm.protectRTCP(buffer, length: length) }
        guard buffer.count - length >= Self.maxTrailer else { throw .noRoomForTag }
        try admitOutbound(buffer, ssrcOffset: 4, length: length)
        var len = Int32(length)
        let status = srtp_protect_rtcp(session, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(len)
    }

    /// Verifies and decrypts an SRTCP packet in place. Returns the RTCP length.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        if let gcm { return try gcm.unprotectRTCP(buffer, length: length) }
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

/// The outbound SSRCs of a libsrtp session, with the native GCM table's policy: at most `capacity`
/// streams; a retired SSRC keeps its stream (and indices) until a new SSRC needs room, then the
/// least recently used retired one is reclaimed and forbidden for the session's lifetime.
struct OutboundSSRCTable {
    let capacity: Int
    private var ssrcs: [UInt32] = []
    private var retired: [Bool] = []
    private var lastUsed: [UInt64] = []
    private var clock: UInt64 = 0
    private var lastHit = 0
    private var forbidden: Set<UInt32> = []
    private var forbiddenOrder: [UInt32] = []

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        ssrcs.reserveCapacity(self.capacity)
        retired.reserveCapacity(self.capacity)
        lastUsed.reserveCapacity(self.capacity)
    }

    var count: Int { ssrcs.count }

    /// Notes a packet under `ssrc`; returns the SSRC whose stream must be freed to make room.
    mutating func use(_ ssrc: UInt32) throws(SRTPError) -> UInt32? {
        clock &+= 1
        if lastHit < ssrcs.count, ssrcs[lastHit] == ssrc {
            retired[lastHit] = false
            lastUsed[lastHit] = clock
            return nil
        }
        if let i = ssrcs.firstIndex(of: ssrc) {
            lastHit = i
            retired[i] = false
            lastUsed[i] = clock
            return nil
        }
        if !forbidden.isEmpty, forbidden.contains(ssrc) { throw .ssrcRetired }
        if ssrcs.count < capacity {
            ssrcs.append(ssrc)
            retired.append(false)
            lastUsed.append(clock)
            lastHit = ssrcs.count - 1
            return nil
        }
        var reclaim: Int?
        for j in ssrcs.indices where retired[j] {
            if reclaim.map({ lastUsed[j] < lastUsed[$0] }) ?? true { reclaim = j }
        }
        guard let reclaim else { throw .ssrcTableFull }
        let old = ssrcs[reclaim]
        if forbidden.insert(old).inserted {
            forbiddenOrder.append(old)
            if forbiddenOrder.count > AEADGCMSession.forbiddenLimit { forbidden.remove(forbiddenOrder.removeFirst()) }
        }
        ssrcs[reclaim] = ssrc
        retired[reclaim] = false
        lastUsed[reclaim] = clock
        lastHit = reclaim
        return old
    }

    mutating func retire(_ ssrc: UInt32) {
        if let i = ssrcs.firstIndex(of: ssrc) { retired[i] = true }
    }
}
