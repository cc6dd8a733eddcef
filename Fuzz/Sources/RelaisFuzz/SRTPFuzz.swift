import RelaisTransport

/// SRTP and SRTCP unprotect (RFC 3711; RFC 7714 for AEAD_AES_128_GCM) for every profile the relay
/// negotiates, all native (`NativeSRTPSession`, OpenSSL EVP and SHA-1): AEAD_AES_128_GCM,
/// AES_CM_128_HMAC_SHA1_80 and _32. Keys are fixed. Creating a session costs far more than a
/// packet (key derivation, EVP contexts, the SSRC table), so the
/// sessions are kept for `inputsPerSession` inputs and then replaced: a crash may in principle
/// depend on the replay state left by earlier inputs, which a fresh run of the single input would
/// not reproduce (libFuzzer then reports it as a crash with the whole sequence in its log).
///
/// `srtp`: the input's first byte picks profile (bit 0: GCM; else bit 2: _32 over _80) and
/// RTP/RTCP (bit 1), the rest is the datagram, which
/// almost always fails authentication early. `srtp-authentic`: the rest is a plaintext packet that
/// is protected first with the same keys, then optionally damaged at one byte (second and third
/// input bytes), then unprotected: the path behind authentication, the replay check and
/// decryption run on every input. What unprotect accepts must be the plaintext, byte for byte.
/// (A damaged packet under _32's 4-byte RTP tag is forged with probability 2^-32 per input: one
/// false finding in about 400 runs of 10 million.)
enum SRTPFuzz {
    static let key: [UInt8] = Array(0..<16)
    static let salts: [SRTPProfile: [UInt8]] = [
        .aes128CMSHA1_80: Array(100..<114),
        .aes128CMSHA1_32: Array(100..<114),
        .aeadAES128GCM: Array(100..<112),
    ]
    static let capacity = 1500 + SRTPSession.maxTrailer

    static func profile(_ selector: UInt8) -> SRTPProfile {
        selector & 1 != 0 ? .aeadAES128GCM : selector & 4 == 0 ? .aes128CMSHA1_80 : .aes128CMSHA1_32
    }

    static func session(_ profile: SRTPProfile, _ direction: SRTPSession.Direction) -> SRTPSession? {
        try? SRTPSession(profile: profile, key: key, salt: salts[profile] ?? [], direction: direction)
    }

    static let inputsPerSession = 1000
    nonisolated(unsafe) static var sessions: [String: (session: SRTPSession, uses: Int)] = [:]

    /// A kept session for profile and direction, replaced after `inputsPerSession` inputs.
    static func kept(_ profile: SRTPProfile, _ direction: SRTPSession.Direction) -> SRTPSession? {
        let name = "\(profile)-\(direction)"
        if let entry = sessions[name], entry.uses < inputsPerSession {
            sessions[name] = (entry.session, entry.uses + 1)
            return entry.session
        }
        guard let fresh = session(profile, direction) else { return nil }
        sessions[name] = (fresh, 1)
        return fresh
    }

    static func runRaw(_ input: UnsafeRawBufferPointer) {
        var reader = FuzzInput(input)
        let selector = reader.byte()
        let packet = reader.rest
        guard packet.count <= 1500, let inbound = kept(profile(selector), .inbound) else { return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        if !packet.isEmpty { buffer.copyMemory(from: packet) }
        if selector & 2 == 0 {
            _ = try? inbound.unprotectRTP(buffer, length: packet.count)
        } else {
            _ = try? inbound.unprotectRTCP(buffer, length: packet.count)
        }
    }

    static func runAuthentic(_ input: UnsafeRawBufferPointer) {
        var reader = FuzzInput(input)
        let selector = reader.byte()
        let damageAt = Int(reader.byte())
        let damage = reader.byte()
        let plain = reader.rest
        let isRTCP = selector & 2 != 0
        let profile = profile(selector)
        guard plain.count >= 2, plain.count <= 1400,
            let outbound = kept(profile, .outbound), let inbound = kept(profile, .inbound)
        else { return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        buffer.copyMemory(from: plain)
        // A version-2 header, as the relay's own packets have; the rest of the header is the input's.
        buffer[0] = 0x80 | (buffer[0] & 0x3F)
        if isRTCP { buffer[1] = 200 &+ (buffer[1] % 8) }
        let original = Array(buffer.prefix(plain.count))

        let protected: Int
        do {
            protected = isRTCP
                ? try outbound.protectRTCP(buffer, length: plain.count)
                : try outbound.protectRTP(buffer, length: plain.count)
        } catch {
            return
        }
        if damage != 0 { buffer[damageAt % protected] ^= damage }
        let result: Int?
        do {
            result = isRTCP
                ? try inbound.unprotectRTCP(buffer, length: protected)
                : try inbound.unprotectRTP(buffer, length: protected)
        } catch {
            result = nil
        }
        // Kept sessions carry replay and rollover state from earlier inputs, so a refusal of an
        // undamaged packet is not a finding by itself; a wrong plaintext, or a damaged packet
        // that is accepted (a forgery), is.
        if let result {
            precondition(damage == 0, "a damaged SRTP packet passed authentication")
            precondition(result == original.count && Array(buffer.prefix(original.count)) == original,
                         "an SRTP packet protected with the same keys unprotected to another plaintext")
        }
    }
}
