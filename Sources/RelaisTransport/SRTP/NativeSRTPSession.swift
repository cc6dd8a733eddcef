internal import COpenSSL

/// SRTP and SRTCP for one direction of a transport, directly over OpenSSL's EVP interface and
/// its SHA-1: AEAD_AES_128_GCM (RFC 7714) and AES_CM_128_HMAC_SHA1_80 / _32 (RFC 3711, RFC 5764).
///
/// Everything that allocates happens in `init`: the session keys are derived (RFC 3711 §4.3,
/// AES-CM PRF), one `EVP_CIPHER_CTX` is keyed for RTP and one for RTCP, the HMAC key schedules
/// (AES-CM) are computed, and the per-SSRC table (and, inbound, its replay bitmaps) is allocated at
/// its fixed capacity. Per packet the cipher context is only re-initialised with the packet's IV
/// (no cipher, no key: no fetch, no key schedule) and the MAC starts from copies of the
/// precomputed SHA-1 states, so protect and unprotect neither allocate nor lock.
///
/// Behaviour follows libsrtp 2.5 (the implementation aiortc and browsers interoperate with), so
/// both can be swapped for one another packet for packet:
/// - ROC estimation is libsrtp's `srtp_rdbx_estimate_index` (RFC 3711 Appendix A once the index
///   passes 2^15; before that the ROC is 0), the RTP replay window is `replayWindow` bits (rounded
///   up to 32 as libsrtp does) and state is created for an SSRC only once a packet of it
///   authenticated.
/// - Outbound, an index already protected is protected again (libsrtp's `allow_repeat_tx`), with
///   the same IV and so the same bytes for the same packet; an index older than the window is
///   refused as `.replayed`, as libsrtp refuses it.
/// - SRTCP: the index is per sender SSRC, starting at 1; the inbound window is 128 indices
///   (libsrtp's `srtp_rdb_t`); E=0 (authenticated, not encrypted) is verified and accepted, as
///   libsrtp accepts it.
/// - AES-CM: the keystream starts at (salt XOR SSRC XOR index) << 16, the tag is HMAC-SHA1 over
///   the packet and its ROC (RTP) or its E flag and index (SRTCP), truncated to 10 bytes (4 for
///   RTP under _32; SRTCP keeps 10, RFC 5764 §4.1.2), compared in constant time before anything
///   is decrypted.
///
/// Deviation: the per-SSRC table has a fixed capacity. Inbound, a new authenticated SSRC evicts
/// the least recently used one (only a holder of the key can create entries, so an attacker cannot
/// flush replay state). Outbound, the owner `retire`s an SSRC it stopped sending (a removed
/// consumer): its slot keeps its index, so the SSRC can come back and continue, until a new SSRC
/// needs room in a full table; then the least recently used retired slot is reused and its SSRC
/// is *forbidden* for the rest of the session (`.ssrcRetired`): recreating it would restart its
/// ROC at 0 and reuse keystream (RFC 7714 §14, RFC 3711 §9.1). With no retired slot to reuse, a
/// new SSRC is refused (`.ssrcTableFull`). `forbiddenLimit` bounds what is remembered; an SSRC
/// forgotten beyond it could only come back through a 32-bit collision of the relay's random
/// output SSRCs.
///
/// Not thread-safe: a session belongs to the event loop of its transport.
final class NativeSRTPSession {
    /// The transform of a profile: AES-GCM's AEAD, or AES-CM keystream plus a truncated HMAC-SHA1.
    enum Transform: Equatable {
        case aeadGCM
        case aesCM(rtpTagLength: Int)

        init(_ profile: SRTPProfile) {
            switch profile {
            case .aeadAES128GCM: self = .aeadGCM
            case .aes128CMSHA1_80: self = .aesCM(rtpTagLength: 10)
            case .aes128CMSHA1_32: self = .aesCM(rtpTagLength: 4)
            }
        }

        var saltLength: Int { self == .aeadGCM ? 12 : 14 }
        var rtpTagLength: Int {
            switch self {
            case .aeadGCM: 16
            case .aesCM(let n): n
            }
        }
        var rtcpTagLength: Int { self == .aeadGCM ? 16 : 10 }
    }

    static let keyLength = 16
    static let authKeyLength = 20
    /// Offsets in `secrets`: two session salts (up to 14 bytes each), a 16-byte IV and a 20-byte
    /// MAC scratch.
    private static let rtcpSaltOffset = 14, ivOffset = 28, macOffset = 44, secretsLength = 64

    let transform: Transform
    let isInbound: Bool
    /// RTP replay window in packets (a multiple of 32, as libsrtp's bitvector).
    let window: Int
    let capacity: Int

    private let rtpContext: OpaquePointer
    private let rtcpContext: OpaquePointer
    /// rtpSalt | rtcpSalt | iv scratch | mac scratch (see the offsets), cleansed on deinit.
    private let secrets: UnsafeMutablePointer<UInt8>
    /// AES-CM: the RTP and RTCP HMAC key schedules; nil for GCM. Cleansed on deinit.
    private let macKeys: UnsafeMutablePointer<relais_hmac_sha1_key>?
    private let slots: UnsafeMutablePointer<Slot>
    /// Inbound only: `capacity * words` words of RTP replay bitmap; bit k of a slot's bitmap says
    /// whether index (slot.rtpIndex - k) was received.
    private let bitmaps: UnsafeMutablePointer<UInt64>?
    private let words: Int
    private var count = 0
    private var clock: UInt64 = 0
    private var lastHit = 0

    struct Slot {
        var ssrc: UInt32 = 0
        var lastUsed: UInt64 = 0
        /// Highest RTP index seen (ROC << 16 | SEQ), libsrtp's `rdbx->index`.
        var rtpIndex: UInt64 = 0
        /// Outbound: the last SRTCP index sent. Inbound: the first index of the 128-bit window.
        var rtcpIndex: UInt32 = 0
        var rtcpBits0: UInt64 = 0
        var rtcpBits1: UInt64 = 0
        /// Outbound: the owner stopped using this SSRC; the slot may be reclaimed.
        var retired = false
    }

    /// Outbound SSRCs whose slot was reclaimed, refused from then on; `forbiddenOrder` is FIFO.
    private var forbidden: Set<UInt32> = []
    private var forbiddenOrder: [UInt32] = []
    static let forbiddenLimit = 4096

    /// The session keys of one direction (RFC 3711 §4.3.1 labels 0-2 for SRTP, 3-5 for SRTCP).
    struct SessionKeys {
        var rtpKey: [UInt8], rtpAuth: [UInt8], rtpSalt: [UInt8]
        var rtcpKey: [UInt8], rtcpAuth: [UInt8], rtcpSalt: [UInt8]

        mutating func cleanse() {
            for i in rtpKey.indices { rtpKey[i] = 0 }
            for i in rtcpKey.indices { rtcpKey[i] = 0 }
            for i in rtpAuth.indices { rtpAuth[i] = 0 }
            for i in rtcpAuth.indices { rtcpAuth[i] = 0 }
            for i in rtpSalt.indices { rtpSalt[i] = 0 }
            for i in rtcpSalt.indices { rtcpSalt[i] = 0 }
        }
    }

    /// Derives the session keys from a master key (16 bytes) and master salt (12 bytes for GCM,
    /// 14 for AES-CM).
    convenience init(profile: SRTPProfile, masterKey: [UInt8], masterSalt: [UInt8], inbound: Bool, replayWindow: Int, capacity: Int) throws(SRTPError) {
        let transform = Transform(profile)
        guard masterKey.count == Self.keyLength, masterSalt.count == transform.saltLength else { throw .setupFailed(code: -2) }
        // RFC 7714 §11: 128-bit session keys, 96-bit session salts; RFC 3711 §4.3: 112-bit salts,
        // 160-bit authentication keys for HMAC-SHA1.
        let authLength = transform == .aeadGCM ? 0 : Self.authKeyLength
        var keys = SessionKeys(
            rtpKey: try Self.prf(masterKey, masterSalt, label: 0x00, length: 16),
            rtpAuth: authLength > 0 ? try Self.prf(masterKey, masterSalt, label: 0x01, length: authLength) : [],
            rtpSalt: try Self.prf(masterKey, masterSalt, label: 0x02, length: transform.saltLength),
            rtcpKey: try Self.prf(masterKey, masterSalt, label: 0x03, length: 16),
            rtcpAuth: authLength > 0 ? try Self.prf(masterKey, masterSalt, label: 0x04, length: authLength) : [],
            rtcpSalt: try Self.prf(masterKey, masterSalt, label: 0x05, length: transform.saltLength))
        defer { keys.cleanse() }
        try self.init(transform: transform, keys: keys, inbound: inbound, replayWindow: replayWindow, capacity: capacity)
    }

    /// Keys the session with session keys and salts directly (RFC 7714 §17 test vectors).
    init(transform: Transform, keys: SessionKeys, inbound: Bool, replayWindow: Int, capacity: Int) throws(SRTPError) {
        let cm = transform != .aeadGCM
        guard keys.rtpKey.count == 16, keys.rtcpKey.count == 16,
              keys.rtpSalt.count == transform.saltLength, keys.rtcpSalt.count == transform.saltLength,
              !cm || (keys.rtpAuth.count == Self.authKeyLength && keys.rtcpAuth.count == Self.authKeyLength),
              (64...0x7fff).contains(replayWindow), capacity >= 1
        else { throw .setupFailed(code: -2) }
        guard let cipher = EVP_CIPHER_fetch(nil, cm ? "AES-128-CTR" : "AES-128-GCM", nil) else { throw .setupFailed(code: -3) }
        defer { EVP_CIPHER_free(cipher) }
        func keyed(_ key: [UInt8]) -> OpaquePointer? {
            guard let ctx = EVP_CIPHER_CTX_new() else { return nil }
            // CTR is its own inverse: both directions encrypt.
            let ok = key.withUnsafeBufferPointer { k in
                inbound && !cm ? EVP_DecryptInit_ex2(ctx, cipher, k.baseAddress, nil, nil) : EVP_EncryptInit_ex2(ctx, cipher, k.baseAddress, nil, nil)
            }
            // 12 bytes is GCM's default IV length; set it anyway so a default change cannot bite.
            guard ok == 1, cm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nil) == 1 else {
                EVP_CIPHER_CTX_free(ctx)
                return nil
            }
            return ctx
        }
        guard let rtp = keyed(keys.rtpKey) else { throw .setupFailed(code: -4) }
        guard let rtcp = keyed(keys.rtcpKey) else { EVP_CIPHER_CTX_free(rtp); throw .setupFailed(code: -4) }
        if cm {
            let macs = UnsafeMutablePointer<relais_hmac_sha1_key>.allocate(capacity: 2)
            let ok = keys.rtpAuth.withUnsafeBufferPointer { relais_hmac_sha1_set_key(macs, $0.baseAddress, $0.count) } == 1
                && keys.rtcpAuth.withUnsafeBufferPointer { relais_hmac_sha1_set_key(macs + 1, $0.baseAddress, $0.count) } == 1
            guard ok else {
                OPENSSL_cleanse(macs, 2 * MemoryLayout<relais_hmac_sha1_key>.size)
                macs.deallocate()
                EVP_CIPHER_CTX_free(rtp)
                EVP_CIPHER_CTX_free(rtcp)
                throw .setupFailed(code: -6)
            }
            macKeys = macs
        } else {
            macKeys = nil
        }
        rtpContext = rtp
        rtcpContext = rtcp
        self.transform = transform
        isInbound = inbound
        window = (replayWindow + 31) / 32 * 32
        self.capacity = capacity
        secrets = .allocate(capacity: Self.secretsLength)
        secrets.initialize(repeating: 0, count: Self.secretsLength)
        for i in 0..<transform.saltLength { secrets[i] = keys.rtpSalt[i]; secrets[Self.rtcpSaltOffset + i] = keys.rtcpSalt[i] }
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(), count: capacity)
        words = (window + 63) / 64
        if inbound {
            let b = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity * words)
            b.initialize(repeating: 0, count: capacity * words)
            bitmaps = b
        } else {
            bitmaps = nil
        }
    }

    deinit {
        EVP_CIPHER_CTX_free(rtpContext)  // cleanses the key schedule
        EVP_CIPHER_CTX_free(rtcpContext)
        OPENSSL_cleanse(secrets, Self.secretsLength)
        secrets.deallocate()
        if let macKeys {
            OPENSSL_cleanse(macKeys, 2 * MemoryLayout<relais_hmac_sha1_key>.size)
            macKeys.deallocate()
        }
        slots.deinitialize(count: capacity)
        slots.deallocate()
        bitmaps?.deallocate()
    }

    // MARK: Key derivation

    /// The AES-CM PRF of RFC 3711 §4.3.3 with key_derivation_rate 0: AES-128 in counter mode keyed
    /// with the master key, IV = (master salt XOR label at byte 7) || 00 00. GCM's 96-bit salt is
    /// padded with two zero bytes to the 112 bits of RFC 3711, as libsrtp pads it.
    static func prf(_ masterKey: [UInt8], _ masterSalt: [UInt8], label: UInt8, length: Int) throws(SRTPError) -> [UInt8] {
        var iv = [UInt8](repeating: 0, count: 16)
        for i in 0..<min(masterSalt.count, 14) { iv[i] = masterSalt[i] }
        iv[7] ^= label
        guard let ctx = EVP_CIPHER_CTX_new() else { throw .setupFailed(code: -5) }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: length)
        let zeros = [UInt8](repeating: 0, count: length)
        var n: Int32 = 0
        guard EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nil, masterKey, iv) == 1,
              EVP_EncryptUpdate(ctx, &out, &n, zeros, Int32(length)) == 1, n == Int32(length)
        else { throw .setupFailed(code: -5) }
        return out
    }

    /// HMAC-SHA1 of `data` through the precomputed-key path the sessions use (tests); nil for a
    /// key longer than SHA-1's block, which SRTP's 20-byte keys never are.
    static func hmacSHA1(key: [UInt8], _ data: [UInt8]) -> [UInt8]? {
        var schedule = relais_hmac_sha1_key()
        guard key.withUnsafeBufferPointer({ relais_hmac_sha1_set_key(&schedule, $0.baseAddress, $0.count) }) == 1 else { return nil }
        var out = [UInt8](repeating: 0, count: 20)
        let ok = data.withUnsafeBytes { d in out.withUnsafeMutableBufferPointer { relais_hmac_sha1(&schedule, d.baseAddress, d.count, nil, 0, $0.baseAddress) } }
        return ok == 1 ? out : nil
    }

    // MARK: SSRC table

    @inline(__always)
    private func find(_ ssrc: UInt32) -> Int? {
        if lastHit < count, slots[lastHit].ssrc == ssrc { return lastHit }
        for i in 0..<count where slots[i].ssrc == ssrc {
            lastHit = i
            return i
        }
        return nil
    }

    /// A fresh slot for `ssrc`: a free one, or inbound the least recently used one, or outbound
    /// the least recently used retired one (whose SSRC is then forbidden).
    private func insert(_ ssrc: UInt32) throws(SRTPError) -> Int {
        let i: Int
        if !isInbound, !forbidden.isEmpty, forbidden.contains(ssrc) { throw .ssrcRetired }
        if count < capacity {
            i = count
            count += 1
        } else if isInbound {
            var oldest = 0
            for j in 1..<count where slots[j].lastUsed < slots[oldest].lastUsed { oldest = j }
            i = oldest
        } else {
            var reclaim: Int?
            for j in 0..<count where slots[j].retired {
                if reclaim.map({ slots[j].lastUsed < slots[$0].lastUsed }) ?? true { reclaim = j }
            }
            guard let reclaim else { throw .ssrcTableFull }
            forbid(slots[reclaim].ssrc)
            i = reclaim
        }
        slots[i] = Slot(ssrc: ssrc)
        if let bitmaps { (bitmaps + i * words).update(repeating: 0, count: words) }
        lastHit = i
        return i
    }

    /// Number of SSRCs with state (tests).
    var ssrcCount: Int { count }

    /// Outbound: the owner will not send under `ssrc` any more (unless it comes back, which
    /// continues its indices). Its slot becomes reclaimable.
    func retire(_ ssrc: UInt32) {
        guard !isInbound, let i = find(ssrc) else { return }
        slots[i].retired = true
    }

    private func forbid(_ ssrc: UInt32) {
        guard forbidden.insert(ssrc).inserted else { return }
        forbiddenOrder.append(ssrc)
        if forbiddenOrder.count > Self.forbiddenLimit { forbidden.remove(forbiddenOrder.removeFirst()) }
    }

    // MARK: RTP index (libsrtp srtp_rdbx_*)

    /// libsrtp's `srtp_rdbx_estimate_index`: the packet's index and its distance from the highest.
    @inline(__always)
    static func estimate(_ local: UInt64, _ seq: UInt16) -> (index: UInt64, delta: Int) {
        let s = Int(seq)
        guard local > 0x8000 else { return (UInt64(seq), s - Int(UInt16(truncatingIfNeeded: local))) }
        let localROC = UInt32(truncatingIfNeeded: local >> 16)
        let localSeq = Int(UInt16(truncatingIfNeeded: local))
        var roc = localROC
        var difference = s - localSeq
        if localSeq < 0x8000 {
            if s - localSeq > 0x8000 { roc = localROC &- 1; difference = s - localSeq - 0x10000 }
        } else if localSeq - 0x8000 > s {
            roc = localROC &+ 1; difference = s - localSeq + 0x10000
        }
        return (UInt64(roc) << 16 | UInt64(seq), difference)
    }

    @inline(__always)
    private func bit(_ slot: Int, _ k: Int) -> Bool {
        guard let bitmaps else { return false }
        return bitmaps[slot * words + k >> 6] >> UInt64(k & 63) & 1 == 1
    }

    /// libsrtp's `srtp_rdbx_add_index` on slot `i`.
    private func accept(_ i: Int, index: UInt64, delta: Int) {
        if delta > 0 { slots[i].rtpIndex = index }
        guard let bitmaps else { return }
        let b = bitmaps + i * words
        if delta > 0 {
            if delta >= window {
                b.update(repeating: 0, count: words)
            } else {
                let wordShift = delta >> 6, bitShift = UInt64(delta & 63)
                var w = words - 1
                while w >= 0 {
                    let src = w - wordShift
                    var v: UInt64 = src >= 0 ? b[src] << bitShift : 0
                    if bitShift != 0, src - 1 >= 0 { v |= b[src - 1] >> (64 - bitShift) }
                    b[w] = v
                    w -= 1
                }
            }
            b[0] |= 1
        } else {
            let k = -delta
            b[k >> 6] |= 1 << UInt64(k & 63)
        }
    }

    // MARK: RTP (RFC 7714 §8)

    /// Header length (fixed header, CSRCs, extension) of the RTP packet in `p[0..<length]`.
    @inline(__always)
    static func headerLength(_ p: UnsafeMutableRawPointer, _ length: Int) throws(SRTPError) -> Int {
        guard length >= 12 else { throw .malformed }
        let first = p.load(as: UInt8.self)
        var n = 12 + Int(first & 0x0f) * 4
        if first & 0x10 != 0 {
            guard n + 4 <= length else { throw .malformed }
            let words = Int(p.load(fromByteOffset: n + 2, as: UInt8.self)) << 8 | Int(p.load(fromByteOffset: n + 3, as: UInt8.self))
            n += 4 + words * 4
        }
        guard n <= length else { throw .malformed }
        return n
    }

    @inline(__always)
    private static func be32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(bigEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The IV scratch for an SSRC and a 48-bit index `a << 16 | b` (ROC and SEQ, or the SRTCP index).
    /// GCM: salt XOR (00 00 || ssrc || a || b), RFC 7714 §8.1 / §9.1. AES-CM: (salt || 00 00) XOR
    /// (00 00 00 00 || ssrc || a || b || 00 00), RFC 3711 §4.1.1, the last two bytes the block counter.
    @inline(__always)
    private func makeIV(rtcp: Bool, ssrc: UInt32, a: UInt32, b: UInt16) -> UnsafeMutablePointer<UInt8> {
        let iv = secrets + Self.ivOffset
        let salt = secrets + (rtcp ? Self.rtcpSaltOffset : 0)
        let cm = transform != .aeadGCM
        let o = cm ? 2 : 0
        for j in 0..<transform.saltLength { iv[j] = salt[j] }
        if cm { iv[14] = 0; iv[15] = 0 }
        for j in 0..<4 {
            let shift = UInt32(24 - 8 * j)
            iv[o + 2 + j] ^= UInt8(truncatingIfNeeded: ssrc >> shift)
            iv[o + 6 + j] ^= UInt8(truncatingIfNeeded: a >> shift)
        }
        iv[o + 10] ^= UInt8(truncatingIfNeeded: b >> 8)
        iv[o + 11] ^= UInt8(truncatingIfNeeded: b)
        return iv
    }

    /// Runs GCM over `aad` (one or two pieces) and `text` in place; encrypts and writes the tag to
    /// `tag`, or decrypts and verifies `tag`. False when OpenSSL fails or the tag does not verify.
    @inline(__always)
    private static func seal(
        _ ctx: OpaquePointer, encrypt: Bool, iv: UnsafeMutablePointer<UInt8>,
        aad: UnsafeMutableRawPointer, aadLength: Int, aad2: UnsafeMutableRawPointer?, aad2Length: Int,
        text: UnsafeMutableRawPointer, textLength: Int, tag: UnsafeMutableRawPointer
    ) -> Bool {
        var n: Int32 = 0
        if encrypt {
            guard EVP_EncryptInit_ex(ctx, nil, nil, nil, iv) == 1 else { return false }
        } else {
            guard EVP_DecryptInit_ex(ctx, nil, nil, nil, iv) == 1,
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1
            else { return false }
        }
        let a = aad.assumingMemoryBound(to: UInt8.self)
        guard EVP_CipherUpdate(ctx, nil, &n, a, Int32(aadLength)) == 1 else { return false }
        if let aad2, aad2Length > 0 {
            guard EVP_CipherUpdate(ctx, nil, &n, aad2.assumingMemoryBound(to: UInt8.self), Int32(aad2Length)) == 1 else { return false }
        }
        if textLength > 0 {
            let t = text.assumingMemoryBound(to: UInt8.self)
            guard EVP_CipherUpdate(ctx, t, &n, t, Int32(textLength)) == 1, n == Int32(textLength) else { return false }
        }
        // GCM's final writes nothing; the pointer only has to be valid.
        guard EVP_CipherFinal_ex(ctx, a, &n) == 1 else { return false }
        if encrypt {
            return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1
        }
        return true
    }

    /// AES-CTR keystream XORed onto `text` in place (encryption and decryption alike).
    @inline(__always)
    private static func counterMode(_ ctx: OpaquePointer, iv: UnsafeMutablePointer<UInt8>, text: UnsafeMutableRawPointer, textLength: Int) -> Bool {
        guard EVP_EncryptInit_ex(ctx, nil, nil, nil, iv) == 1 else { return false }
        guard textLength > 0 else { return true }
        var n: Int32 = 0
        let t = text.assumingMemoryBound(to: UInt8.self)
        return EVP_EncryptUpdate(ctx, t, &n, t, Int32(textLength)) == 1 && n == Int32(textLength)
    }

    /// HMAC-SHA1 of `p[0..<length]` followed by the 4 bytes of `suffix` (big-endian) into the MAC
    /// scratch; nil when OpenSSL fails.
    @inline(__always)
    private func mac(rtcp: Bool, _ p: UnsafeRawPointer, _ length: Int, suffix: UInt32?) -> UnsafeMutablePointer<UInt8>? {
        guard let macKeys else { return nil }
        let out = secrets + Self.macOffset
        var tail = (suffix ?? 0).bigEndian
        let ok = withUnsafeBytes(of: &tail) { t in
            relais_hmac_sha1(macKeys + (rtcp ? 1 : 0), p, length, t.baseAddress, suffix == nil ? 0 : 4, out)
        }
        return ok == 1 ? out : nil
    }

    /// Encrypts the RTP packet `buffer[0..<length]` in place and appends the tag.
    func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = transform.rtpTagLength
        guard length <= buffer.count, buffer.count - length >= tagLength, let p = buffer.baseAddress else { throw .noRoomForTag }
        let header = try Self.headerLength(p, length)
        let seq = UInt16(truncatingIfNeeded: Self.be32(p, 0))
        let ssrc = Self.be32(p, 8)
        let i: Int
        if let hit = find(ssrc) { i = hit } else { i = try insert(ssrc) }
        slots[i].retired = false
        let (index, delta) = Self.estimate(slots[i].rtpIndex, seq)
        // libsrtp refuses to protect an index older than the window (srtp_err_status_replay_old);
        // a repeat inside it is re-protected under the same index (allow_repeat_tx).
        guard delta > -window else { throw .replayed }
        clock &+= 1
        slots[i].lastUsed = clock
        if delta > 0 { slots[i].rtpIndex = index }
        let roc = UInt32(truncatingIfNeeded: index >> 16)
        let iv = makeIV(rtcp: false, ssrc: ssrc, a: roc, b: seq)
        if transform == .aeadGCM {
            guard Self.seal(rtpContext, encrypt: true, iv: iv, aad: p, aadLength: header, aad2: nil, aad2Length: 0,
                            text: p + header, textLength: length - header, tag: p + length)
            else { throw .other(code: -10) }
        } else {
            // RFC 3711 §4.2: the tag covers the encrypted packet and its ROC (not sent).
            guard Self.counterMode(rtpContext, iv: iv, text: p + header, textLength: length - header),
                  let tag = mac(rtcp: false, p, length, suffix: roc)
            else { throw .other(code: -10) }
            (p + length).copyMemory(from: tag, byteCount: tagLength)
        }
        return length + tagLength
    }

    /// Verifies and decrypts the SRTP packet `buffer[0..<length]` in place; the RTP length.
    func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = transform.rtpTagLength
        guard length >= 12 + tagLength, length <= buffer.count, let p = buffer.baseAddress else { throw .malformed }
        let end = length - tagLength
        let header = try Self.headerLength(p, end)
        let seq = UInt16(truncatingIfNeeded: Self.be32(p, 0))
        let ssrc = Self.be32(p, 8)
        let found = find(ssrc)
        let (index, delta) = Self.estimate(found.map { slots[$0].rtpIndex } ?? 0, seq)
        if delta <= 0 {
            guard delta > -window else { throw .replayed }
            if let found, bit(found, -delta) { throw .replayed }
        }
        let roc = UInt32(truncatingIfNeeded: index >> 16)
        let iv = makeIV(rtcp: false, ssrc: ssrc, a: roc, b: seq)
        if transform == .aeadGCM {
            guard Self.seal(rtpContext, encrypt: false, iv: iv, aad: p, aadLength: header, aad2: nil, aad2Length: 0,
                            text: p + header, textLength: end - header, tag: p + end)
            else { throw .authenticationFailed }
        } else {
            // Authenticate before decrypting anything (RFC 3711 §3.3 step 5).
            guard let tag = mac(rtcp: false, p, end, suffix: roc), CRYPTO_memcmp(tag, p + end, tagLength) == 0 else { throw .authenticationFailed }
            guard Self.counterMode(rtpContext, iv: iv, text: p + header, textLength: end - header) else { throw .other(code: -10) }
        }
        let i: Int
        if let found { i = found } else { i = try insert(ssrc) }
        clock &+= 1
        slots[i].lastUsed = clock
        accept(i, index: index, delta: delta)
        return end
    }

    // MARK: SRTCP (RFC 7714 §9, RFC 3711 §3.4)

    /// Protects an RTCP compound in place. GCM: header(8) || ciphertext || tag(16) || E=1 + index(4).
    /// AES-CM: header(8) || ciphertext || E=1 + index(4) || tag(10).
    func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = transform.rtcpTagLength
        guard length <= buffer.count, buffer.count - length >= tagLength + 4, let p = buffer.baseAddress else { throw .noRoomForTag }
        guard length >= 8 else { throw .malformed }
        let ssrc = Self.be32(p, 4)
        let i: Int
        if let hit = find(ssrc) { i = hit } else { i = try insert(ssrc) }
        slots[i].retired = false
        // libsrtp's srtp_rdb_increment: the 31-bit index is exhausted (srtp_err_status_key_expired).
        guard slots[i].rtcpIndex < 0x7fff_ffff else { throw .other(code: 15) }
        slots[i].rtcpIndex += 1
        clock &+= 1
        slots[i].lastUsed = clock
        let index = slots[i].rtcpIndex
        let iv = makeIV(rtcp: true, ssrc: ssrc, a: index >> 16, b: UInt16(truncatingIfNeeded: index))
        if transform == .aeadGCM {
            let trailer = p + length + tagLength
            trailer.storeBytes(of: (0x8000_0000 | index).bigEndian, as: UInt32.self)
            guard Self.seal(rtcpContext, encrypt: true, iv: iv, aad: p, aadLength: 8, aad2: trailer, aad2Length: 4,
                            text: p + 8, textLength: length - 8, tag: p + length)
            else { throw .other(code: -10) }
        } else {
            guard Self.counterMode(rtcpContext, iv: iv, text: p + 8, textLength: length - 8) else { throw .other(code: -10) }
            (p + length).storeBytes(of: (0x8000_0000 | index).bigEndian, as: UInt32.self)
            guard let tag = mac(rtcp: true, p, length + 4, suffix: nil) else { throw .other(code: -10) }
            (p + length + 4).copyMemory(from: tag, byteCount: tagLength)
        }
        return length + tagLength + 4
    }

    /// Verifies (and, with E=1, decrypts) an SRTCP packet in place; the RTCP length.
    func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        let tagLength = transform.rtcpTagLength
        guard length >= 8 + tagLength + 4, length <= buffer.count, let p = buffer.baseAddress else { throw .malformed }
        let gcm = transform == .aeadGCM
        let end = length - tagLength - 4
        // Where the E flag and index are: last for GCM, before the tag for AES-CM.
        let trailerOffset = gcm ? length - 4 : end
        let word = Self.be32(p, trailerOffset)
        let encrypted = word & 0x8000_0000 != 0
        let index = word & 0x7fff_ffff
        let ssrc = Self.be32(p, 4)
        let found = find(ssrc)
        // libsrtp's srtp_rdb_check: a 128-index window starting at rtcpIndex.
        if let found {
            let start = slots[found].rtcpIndex
            guard index >= start else { throw .replayed }
            let k = index - start
            if k < 128 {
                let bits = k < 64 ? slots[found].rtcpBits0 >> UInt64(k) : slots[found].rtcpBits1 >> UInt64(k - 64)
                if bits & 1 == 1 { throw .replayed }
            }
        }
        let iv = makeIV(rtcp: true, ssrc: ssrc, a: index >> 16, b: UInt16(truncatingIfNeeded: index))
        if gcm {
            let trailer = p + trailerOffset
            let ok = encrypted
                ? Self.seal(rtcpContext, encrypt: false, iv: iv, aad: p, aadLength: 8, aad2: trailer, aad2Length: 4,
                            text: p + 8, textLength: end - 8, tag: p + end)
                : Self.seal(rtcpContext, encrypt: false, iv: iv, aad: p, aadLength: end, aad2: trailer, aad2Length: 4,
                            text: p + end, textLength: 0, tag: p + end)
            guard ok else { throw .authenticationFailed }
        } else {
            guard let tag = mac(rtcp: true, p, end + 4, suffix: nil), CRYPTO_memcmp(tag, p + end + 4, tagLength) == 0 else { throw .authenticationFailed }
            if encrypted {
                guard Self.counterMode(rtcpContext, iv: iv, text: p + 8, textLength: end - 8) else { throw .other(code: -10) }
            }
        }
        let i: Int
        if let found { i = found } else { i = try insert(ssrc) }
        clock &+= 1
        slots[i].lastUsed = clock
        // libsrtp's srtp_rdb_add_index.
        var k = index - slots[i].rtcpIndex
        if k >= 128 {
            let shift = k - 127
            slots[i].rtcpIndex += shift
            if shift >= 128 {
                slots[i].rtcpBits0 = 0
                slots[i].rtcpBits1 = 0
            } else if shift >= 64 {
                slots[i].rtcpBits0 = slots[i].rtcpBits1 >> UInt64(shift - 64)
                slots[i].rtcpBits1 = 0
            } else if shift > 0 {
                slots[i].rtcpBits0 = slots[i].rtcpBits0 >> UInt64(shift) | slots[i].rtcpBits1 << UInt64(64 - shift)
                slots[i].rtcpBits1 >>= UInt64(shift)
            }
            k = 127
        }
        if k < 64 { slots[i].rtcpBits0 |= 1 << UInt64(k) } else { slots[i].rtcpBits1 |= 1 << UInt64(k - 64) }
        return end
    }
}
