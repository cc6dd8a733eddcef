internal import COpenSSL

/// AEAD_AES_128_GCM SRTP and SRTCP (RFC 7714) for one direction of a transport, directly over
/// OpenSSL 3's EVP interface.
///
/// Everything that allocates happens in `init`: the session keys are derived (RFC 3711 §4.3,
/// AES-CM PRF), one `EVP_CIPHER_CTX` is keyed for RTP and one for RTCP, and the per-SSRC table
/// (and, inbound, its replay bitmaps) is allocated at its fixed capacity. Per packet the context
/// is only re-initialised with the packet's IV (no cipher, no key: no fetch, no key schedule), so
/// protect and unprotect neither allocate nor lock.
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
///   (libsrtp's `srtp_rdb_t`); E=0 (authenticated, not encrypted, RFC 7714 §9.2) is verified and
///   accepted, as libsrtp accepts it.
///
/// Deviation: the per-SSRC table has a fixed capacity. Inbound, a new authenticated SSRC evicts
/// the least recently used one (only a holder of the key can create entries, so an attacker cannot
/// flush replay state). Outbound, the owner `retire`s an SSRC it stopped sending (a removed
/// consumer): its slot keeps its index, so the SSRC can come back and continue, until a new SSRC
/// needs room in a full table; then the least recently used retired slot is reused and its SSRC
/// is *forbidden* for the rest of the session (`.ssrcRetired`): recreating it would restart its
/// ROC at 0 and reuse GCM nonces (RFC 7714 §14, RFC 3711 §9.1). With no retired slot to reuse, a
/// new SSRC is refused (`.ssrcTableFull`). `forbiddenLimit` bounds what is remembered; an SSRC
/// forgotten beyond it could only come back through a 32-bit collision of the relay's random
/// output SSRCs.
///
/// Not thread-safe: a session belongs to the event loop of its transport.
final class AEADGCMSession {
    static let tagLength = 16
    static let saltLength = 12
    static let keyLength = 16

    let isInbound: Bool
    /// RTP replay window in packets (a multiple of 32, as libsrtp's bitvector).
    let window: Int
    let capacity: Int

    private let rtpContext: OpaquePointer
    private let rtcpContext: OpaquePointer
    /// rtpSalt[12] | rtcpSalt[12] | iv scratch[12], cleansed on deinit.
    private let secrets: UnsafeMutablePointer<UInt8>
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

    /// Derives the session keys from a master key (16 bytes) and master salt (12 bytes).
    convenience init(masterKey: [UInt8], masterSalt: [UInt8], inbound: Bool, replayWindow: Int, capacity: Int) throws(SRTPError) {
        guard masterKey.count == Self.keyLength, masterSalt.count == Self.saltLength else { throw .setupFailed(code: -2) }
        // RFC 3711 §4.3.1 labels; RFC 7714 §11: 128-bit session keys, 96-bit session salts.
        var rtpKey = try Self.prf(masterKey, masterSalt, label: 0x00, length: 16)
        var rtpSalt = try Self.prf(masterKey, masterSalt, label: 0x02, length: 12)
        var rtcpKey = try Self.prf(masterKey, masterSalt, label: 0x03, length: 16)
        var rtcpSalt = try Self.prf(masterKey, masterSalt, label: 0x05, length: 12)
        defer {
            OPENSSL_cleanse(&rtpKey, rtpKey.count)
            OPENSSL_cleanse(&rtpSalt, rtpSalt.count)
            OPENSSL_cleanse(&rtcpKey, rtcpKey.count)
            OPENSSL_cleanse(&rtcpSalt, rtcpSalt.count)
        }
        try self.init(rtpKey: rtpKey, rtpSalt: rtpSalt, rtcpKey: rtcpKey, rtcpSalt: rtcpSalt, inbound: inbound, replayWindow: replayWindow, capacity: capacity)
    }

    /// Keys the session with session keys and salts directly (RFC 7714 §17 test vectors).
    init(rtpKey: [UInt8], rtpSalt: [UInt8], rtcpKey: [UInt8], rtcpSalt: [UInt8], inbound: Bool, replayWindow: Int, capacity: Int) throws(SRTPError) {
        guard rtpKey.count == 16, rtcpKey.count == 16, rtpSalt.count == 12, rtcpSalt.count == 12,
              (64...0x7fff).contains(replayWindow), capacity >= 1
        else { throw .setupFailed(code: -2) }
        guard let cipher = EVP_CIPHER_fetch(nil, "AES-128-GCM", nil) else { throw .setupFailed(code: -3) }
        defer { EVP_CIPHER_free(cipher) }
        func keyed(_ key: [UInt8]) -> OpaquePointer? {
            guard let ctx = EVP_CIPHER_CTX_new() else { return nil }
            let ok = key.withUnsafeBufferPointer { k in
                inbound ? EVP_DecryptInit_ex2(ctx, cipher, k.baseAddress, nil, nil) : EVP_EncryptInit_ex2(ctx, cipher, k.baseAddress, nil, nil)
            }
            // 12 bytes is GCM's default IV length; set it anyway so a default change cannot bite.
            guard ok == 1, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nil) == 1 else {
                EVP_CIPHER_CTX_free(ctx)
                return nil
            }
            return ctx
        }
        guard let rtp = keyed(rtpKey) else { throw .setupFailed(code: -4) }
        guard let rtcp = keyed(rtcpKey) else { EVP_CIPHER_CTX_free(rtp); throw .setupFailed(code: -4) }
        rtpContext = rtp
        rtcpContext = rtcp
        isInbound = inbound
        window = (replayWindow + 31) / 32 * 32
        self.capacity = capacity
        secrets = .allocate(capacity: 36)
        secrets.initialize(repeating: 0, count: 36)
        for i in 0..<12 { secrets[i] = rtpSalt[i]; secrets[12 + i] = rtcpSalt[i] }
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
        OPENSSL_cleanse(secrets, 36)
        secrets.deallocate()
        slots.deinitialize(count: capacity)
        slots.deallocate()
        bitmaps?.deallocate()
    }

    // MARK: Key derivation

    /// The AES-CM PRF of RFC 3711 §4.3.3 with key_derivation_rate 0: AES-128 in counter mode keyed
    /// with the master key, IV = (master salt XOR label at byte 7) || 00 00. The 96-bit salt is
    /// padded with two zero bytes to the 112 bits of RFC 3711, as libsrtp pads it.
    static func prf(_ masterKey: [UInt8], _ masterSalt: [UInt8], label: UInt8, length: Int) throws(SRTPError) -> [UInt8] {
        var iv = [UInt8](repeating: 0, count: 16)
        for i in 0..<masterSalt.count { iv[i] = masterSalt[i] }
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

    /// IV scratch = salt XOR (00 00 || ssrc || a || b), RFC 7714 §8.1 / §9.1.
    @inline(__always)
    private func makeIV(saltOffset: Int, ssrc: UInt32, a: UInt32, b: UInt16) -> UnsafeMutablePointer<UInt8> {
        let iv = secrets + 24
        let salt = secrets + saltOffset
        iv[0] = salt[0]
        iv[1] = salt[1]
        for j in 0..<4 {
            let shift = UInt32(24 - 8 * j)
            iv[2 + j] = salt[2 + j] ^ UInt8(truncatingIfNeeded: ssrc >> shift)
            iv[6 + j] = salt[6 + j] ^ UInt8(truncatingIfNeeded: a >> shift)
        }
        iv[10] = salt[10] ^ UInt8(truncatingIfNeeded: b >> 8)
        iv[11] = salt[11] ^ UInt8(truncatingIfNeeded: b)
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
                  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Int32(tagLength), tag) == 1
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
            return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Int32(tagLength), tag) == 1
        }
        return true
    }

    /// Encrypts the RTP packet `buffer[0..<length]` in place and appends the tag.
    func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length <= buffer.count, buffer.count - length >= Self.tagLength, let p = buffer.baseAddress else { throw .noRoomForTag }
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
        let iv = makeIV(saltOffset: 0, ssrc: ssrc, a: UInt32(truncatingIfNeeded: index >> 16), b: seq)
        guard Self.seal(rtpContext, encrypt: true, iv: iv, aad: p, aadLength: header, aad2: nil, aad2Length: 0,
                        text: p + header, textLength: length - header, tag: p + length)
        else { throw .other(code: -10) }
        return length + Self.tagLength
    }

    /// Verifies and decrypts the SRTP packet `buffer[0..<length]` in place; the RTP length.
    func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length >= 12 + Self.tagLength, length <= buffer.count, let p = buffer.baseAddress else { throw .malformed }
        let end = length - Self.tagLength
        let header = try Self.headerLength(p, end)
        let seq = UInt16(truncatingIfNeeded: Self.be32(p, 0))
        let ssrc = Self.be32(p, 8)
        let found = find(ssrc)
        let (index, delta) = Self.estimate(found.map { slots[$0].rtpIndex } ?? 0, seq)
        if delta <= 0 {
            guard delta > -window else { throw .replayed }
            if let found, bit(found, -delta) { throw .replayed }
        }
        let iv = makeIV(saltOffset: 0, ssrc: ssrc, a: UInt32(truncatingIfNeeded: index >> 16), b: seq)
        guard Self.seal(rtpContext, encrypt: false, iv: iv, aad: p, aadLength: header, aad2: nil, aad2Length: 0,
                        text: p + header, textLength: end - header, tag: p + end)
        else { throw .authenticationFailed }
        let i: Int
        if let found { i = found } else { i = try insert(ssrc) }
        clock &+= 1
        slots[i].lastUsed = clock
        accept(i, index: index, delta: delta)
        return end
    }

    // MARK: SRTCP (RFC 7714 §9)

    /// Encrypts an RTCP compound in place: header(8) || ciphertext || tag(16) || E=1 + index(4).
    func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length <= buffer.count, buffer.count - length >= Self.tagLength + 4, let p = buffer.baseAddress else { throw .noRoomForTag }
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
        let trailer = p + length + Self.tagLength
        trailer.storeBytes(of: (0x8000_0000 | index).bigEndian, as: UInt32.self)
        let iv = makeIV(saltOffset: 12, ssrc: ssrc, a: index >> 16, b: UInt16(truncatingIfNeeded: index))
        guard Self.seal(rtcpContext, encrypt: true, iv: iv, aad: p, aadLength: 8, aad2: trailer, aad2Length: 4,
                        text: p + 8, textLength: length - 8, tag: p + length)
        else { throw .other(code: -10) }
        return length + Self.tagLength + 4
    }

    /// Verifies (and, with E=1, decrypts) an SRTCP packet in place; the RTCP length.
    func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length >= 8 + Self.tagLength + 4, length <= buffer.count, let p = buffer.baseAddress else { throw .malformed }
        let end = length - Self.tagLength - 4
        let trailer = p + length - 4
        let word = Self.be32(p, length - 4)
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
        let iv = makeIV(saltOffset: 12, ssrc: ssrc, a: index >> 16, b: UInt16(truncatingIfNeeded: index))
        let ok = encrypted
            ? Self.seal(rtcpContext, encrypt: false, iv: iv, aad: p, aadLength: 8, aad2: trailer, aad2Length: 4,
                        text: p + 8, textLength: end - 8, tag: p + end)
            : Self.seal(rtcpContext, encrypt: false, iv: iv, aad: p, aadLength: end, aad2: trailer, aad2Length: 4,
                        text: p + end, textLength: 0, tag: p + end)
        guard ok else { throw .authenticationFailed }
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
