@testable import RelaisTransport
import TestSupport
import Testing

/// The native SRTP (`NativeSRTPSession`, OpenSSL EVP and SHA-1), every profile, against libsrtp 2.5
/// as the oracle: byte-identical protect output, cross unprotect both ways, the same accept/refuse
/// decision on reordered, repeated and old packets, and typed errors on damaged input.
@Suite struct SRTPNativeInteropTests {
    /// A seeded generator so a failure replays the same way (SplitMix64).
    /// Our session and libsrtp's for the same master key, salt and direction.
    struct Pair {
        let ours: SRTPSession
        let oracle: SRTPSession
    }

    static func pairs(_ profile: SRTPProfile, _ g: inout SplitMix64) throws -> (outbound: Pair, inbound: Pair) {
        let key = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        let salt = (0..<profile.saltLength).map { _ in UInt8.random(in: 0...255, using: &g) }
        func make(_ d: SRTPSession.Direction) throws -> Pair {
            Pair(ours: try SRTPSession(profile: profile, key: key, salt: salt, direction: d, backend: .native),
                 oracle: try SRTPSession(profile: profile, key: key, salt: salt, direction: d, backend: .libsrtp))
        }
        return (try make(.outbound), try make(.inbound))
    }

    /// A random RTP packet: CSRCs, no / one-byte / two-byte header extension, padding.
    static func rtp(ssrc: UInt32, seq: UInt16, _ g: inout SplitMix64) -> [UInt8] {
        let cc = Int.random(in: 0...3, using: &g) == 0 ? Int.random(in: 1...15, using: &g) : 0
        let ext = Int.random(in: 0...2, using: &g)  // 0 none, 1 one-byte (0xBEDE), 2 two-byte (0x100x)
        let padding = Bool.random(using: &g) ? Int.random(in: 1...32, using: &g) : 0
        var p: [UInt8] = [0x80 | (ext > 0 ? 0x10 : 0) | (padding > 0 ? 0x20 : 0) | UInt8(cc),
                          UInt8.random(in: 0...255, using: &g) & 0xff]
        p += [UInt8(seq >> 8), UInt8(seq & 0xff)]
        p += (0..<4).map { _ in UInt8.random(in: 0...255, using: &g) }
        p += [UInt8(ssrc >> 24), UInt8(ssrc >> 16 & 0xff), UInt8(ssrc >> 8 & 0xff), UInt8(ssrc & 0xff)]
        for _ in 0..<cc { p += (0..<4).map { _ in UInt8.random(in: 0...255, using: &g) } }
        if ext > 0 {
            let words = Int.random(in: 0...6, using: &g)
            p += ext == 1 ? [0xBE, 0xDE] : [0x10, UInt8.random(in: 0...15, using: &g)]
            p += [0, UInt8(words)]
            p += (0..<words * 4).map { _ in UInt8.random(in: 0...255, using: &g) }
        }
        p += (0..<Int.random(in: 0...1200, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
        if padding > 0 {
            p += [UInt8](repeating: 0, count: padding - 1) + [UInt8(padding)]
        }
        return p
    }

    /// Where an SRTCP packet carries its E flag and index: last for GCM, before the tag for AES-CM.
    static func srtcpTrailer(_ profile: SRTPProfile, _ packet: [UInt8]) -> Int {
        packet.count - (profile == .aeadAES128GCM ? 4 : 14)
    }

    /// A random RTCP compound: a header of a real type, the sender SSRC, then 0...60 words.
    static func rtcp(ssrc: UInt32, _ g: inout SplitMix64) -> [UInt8] {
        let words = Int.random(in: 0...60, using: &g)
        var p: [UInt8] = [0x80 | UInt8.random(in: 0...31, using: &g), UInt8.random(in: 200...206, using: &g), 0, UInt8(1 + min(words, 200))]
        p += [UInt8(ssrc >> 24), UInt8(ssrc >> 16 & 0xff), UInt8(ssrc >> 8 & 0xff), UInt8(ssrc & 0xff)]
        p += (0..<words * 4).map { _ in UInt8.random(in: 0...255, using: &g) }
        return p
    }

    enum Outcome: Equatable { case ok([UInt8]), refused(SRTPError) }

    static func run(_ packet: [UInt8], _ f: (UnsafeMutableRawBufferPointer, Int) throws(SRTPError) -> Int) -> Outcome {
        var buffer = packet + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        do {
            let n = try buffer.withUnsafeMutableBytes { (b) throws(SRTPError) -> Int in try f(b, packet.count) }
            return .ok(Array(buffer.prefix(n)))
        } catch let e as SRTPError {
            return .refused(e)
        } catch {
            return .refused(.other(code: -999))
        }
    }

    static func bytes(_ o: Outcome) -> [UInt8]? {
        if case .ok(let b) = o { return b }
        return nil
    }

    /// Many SSRCs, each starting close to 65535 so ROC increments, random header shapes: protect
    /// gives the same bytes on both implementations, and each unprotects the other's output.
    @Test(arguments: SRTPProfile.allCases, [1 as UInt64, 2, 3])
    func rtpProtectIsByteIdenticalAndCrossUnprotects(profile: SRTPProfile, seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        let (out, inb) = try Self.pairs(profile, &g)
        let ssrcs = (0..<24).map { _ in UInt32.random(in: 0...UInt32.max, using: &g) }
        var seqs = ssrcs.map { _ in UInt16.random(in: 65_300...65_535, using: &g) }
        var checked = 0, wrapped = 0
        for _ in 0..<4_000 {
            let s = Int.random(in: 0..<ssrcs.count, using: &g)
            // Mostly +1, sometimes a jump (loss) of up to 3000.
            let step = Int.random(in: 0...9, using: &g) == 0 ? Int.random(in: 2...3000, using: &g) : 1
            let (next, overflow) = seqs[s].addingReportingOverflow(UInt16(step))
            if overflow { wrapped += 1 }
            seqs[s] = next
            let plain = Self.rtp(ssrc: ssrcs[s], seq: next, &g)
            let mine = Self.run(plain, out.ours.protectRTP)
            let theirs = Self.run(plain, out.oracle.protectRTP)
            #expect(mine == theirs)
            guard let a = Self.bytes(mine), let b = Self.bytes(theirs) else { Issue.record("protect refused: \(mine) \(theirs)"); return }
            #expect(a.count == plain.count + profile.rtpTagLength)
            #expect(Self.run(a, inb.oracle.unprotectRTP) == .ok(plain))  // ours -> libsrtp
            #expect(Self.run(b, inb.ours.unprotectRTP) == .ok(plain))  // libsrtp -> ours
            checked += 1
        }
        #expect(checked == 4_000)
        #expect(wrapped >= ssrcs.count)  // every SSRC crossed 65535 at least once
    }

    /// One SSRC jumping by up to 30000 so ROC climbs several times; then a late packet of the
    /// previous ROC (RFC 3711 Appendix A's guess of ROC - 1).
    @Test(arguments: SRTPProfile.allCases)
    func rocAcrossSeveralWrapsAndLatePacketOfPreviousROC(profile: SRTPProfile) throws {
        var g = SplitMix64(seed: 77)
        let (out, inb) = try Self.pairs(profile, &g)
        var seq: UInt16 = 100
        var history: [[UInt8]] = []
        for _ in 0..<200 {
            seq &+= UInt16.random(in: 1...30_000, using: &g)
            let plain = Self.rtp(ssrc: 0xCAFE_BABE, seq: seq, &g)
            let mine = Self.run(plain, out.ours.protectRTP)
            #expect(mine == Self.run(plain, out.oracle.protectRTP))
            guard let a = Self.bytes(mine) else { Issue.record("\(mine)"); return }
            #expect(Self.run(a, inb.ours.unprotectRTP) == .ok(plain))
            #expect(Self.run(a, inb.oracle.unprotectRTP) == .ok(plain))
            history.append(plain)
        }
        // Packets just before and after a wrap, delivered out of order across it.
        let (out2, inb2) = try Self.pairs(profile, &g)
        let around: [UInt16] = [65_530, 65_531, 3, 65_533, 1, 65_535, 0, 2, 65_534, 65_532]
        for s in around {
            let plain = Self.rtp(ssrc: 9, seq: s, &g)
            let mine = Self.run(plain, out2.ours.protectRTP)
            #expect(mine == Self.run(plain, out2.oracle.protectRTP))
            guard let a = Self.bytes(mine) else { Issue.record("\(mine)"); return }
            #expect(Self.run(a, inb2.ours.unprotectRTP) == .ok(plain))
            #expect(Self.run(a, inb2.oracle.unprotectRTP) == .ok(plain))
        }
    }

    /// Inbound differential: the same stream of protected packets, reordered, duplicated and with
    /// packets older than the window, gets the same accept/refuse decision and plaintext from both.
    @Test(arguments: SRTPProfile.allCases, [11 as UInt64, 12])
    func replayWindowDecisionsMatchLibsrtp(profile: SRTPProfile, seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        let (out, inb) = try Self.pairs(profile, &g)
        var protected: [[UInt8]] = []
        var seq = UInt16.random(in: 0...65_535, using: &g)
        for _ in 0..<3_000 {
            seq &+= Int.random(in: 0...20, using: &g) == 0 ? UInt16.random(in: 2...200, using: &g) : 1
            let plain = Self.rtp(ssrc: UInt32.random(in: 1...3, using: &g), seq: seq, &g)
            guard let a = Self.bytes(Self.run(plain, out.ours.protectRTP)) else { continue }
            protected.append(a)
        }
        var accepted = 0, replays = 0
        for i in 0..<6_000 {
            // Mostly the next packet, else any earlier one (duplicate, reordered, or far too old).
            let j = i < protected.count && Int.random(in: 0...3, using: &g) != 0 ? i : Int.random(in: 0..<min(max(i, 1), protected.count), using: &g)
            let mine = Self.run(protected[j], inb.ours.unprotectRTP)
            let theirs = Self.run(protected[j], inb.oracle.unprotectRTP)
            #expect(mine == theirs, "packet \(j) at step \(i)")
            if case .ok = mine { accepted += 1 } else { replays += 1 }
        }
        #expect(accepted > 2_000)  // a quarter of the steps deliver an earlier packet instead of the next
        #expect(replays > 1_000)
    }

    /// SRTCP compounds from several SSRCs: identical output (index per sender SSRC from 1, E=1),
    /// cross unprotect, replays refused by both.
    @Test(arguments: SRTPProfile.allCases)
    func srtcpIsByteIdenticalCrossUnprotectsAndRefusesReplays(profile: SRTPProfile) throws {
        var g = SplitMix64(seed: 5)
        let (out, inb) = try Self.pairs(profile, &g)
        let trailer = profile == .aeadAES128GCM ? 20 : 14
        let ssrcs = (0..<8).map { _ in UInt32.random(in: 0...UInt32.max, using: &g) }
        var sent: [[UInt8]] = []
        for _ in 0..<1_500 {
            let plain = Self.rtcp(ssrc: ssrcs[Int.random(in: 0..<ssrcs.count, using: &g)], &g)
            let mine = Self.run(plain, out.ours.protectRTCP)
            #expect(mine == Self.run(plain, out.oracle.protectRTCP))
            guard let a = Self.bytes(mine) else { Issue.record("\(mine)"); return }
            #expect(a.count == plain.count + trailer)
            #expect(a[Self.srtcpTrailer(profile, a)] & 0x80 != 0)  // E flag
            #expect(Self.run(a, inb.ours.unprotectRTCP) == .ok(plain))
            #expect(Self.run(a, inb.oracle.unprotectRTCP) == .ok(plain))
            sent.append(a)
        }
        // Replays, recent and beyond the 128-index window, and E cleared (changes the AAD).
        for _ in 0..<300 {
            var a = sent[Int.random(in: 0..<sent.count, using: &g)]
            let mine = Self.run(a, inb.ours.unprotectRTCP)
            #expect(mine == .refused(.replayed))
            #expect(mine == Self.run(a, inb.oracle.unprotectRTCP))
            a[Self.srtcpTrailer(profile, a)] &= 0x7f
            #expect(Self.run(a, inb.ours.unprotectRTCP) != .ok(Array(a.prefix(a.count - trailer))))
        }
        // Reordered delivery within the window is accepted by both.
        let (out2, inb2) = try Self.pairs(profile, &g)
        var batch = (0..<100).compactMap { _ in Self.bytes(Self.run(Self.rtcp(ssrc: 7, &g), out2.ours.protectRTCP)) }
        batch.shuffle(using: &g)
        for a in batch {
            let mine = Self.run(a, inb2.ours.unprotectRTCP)
            #expect(mine == Self.run(a, inb2.oracle.unprotectRTCP))
            #expect(Self.bytes(mine) != nil)
        }
    }

    /// Outbound re-protect of an index already sent (the relay's retransmissions) succeeds and
    /// gives the same bytes; inbound the repeat is a replay; older than the window is refused.
    @Test(arguments: SRTPProfile.allCases)
    func retransmissionReprotectsIdenticallyAndOldIndexIsRefused(profile: SRTPProfile) throws {
        var g = SplitMix64(seed: 9)
        let (out, inb) = try Self.pairs(profile, &g)
        var plains: [[UInt8]] = []
        var first: [[UInt8]] = []
        for i in 0..<1_500 {
            let plain = Self.rtp(ssrc: 42, seq: UInt16(truncatingIfNeeded: 65_000 + i), &g)
            plains.append(plain)
            first.append(Self.bytes(Self.run(plain, out.ours.protectRTP)) ?? [])
            #expect(Self.run(plain, out.oracle.protectRTP) == .ok(first[i]))
            _ = Self.run(first[i], inb.ours.unprotectRTP)
        }
        for i in [1_499, 1_400, 900, 476] {  // within 1024 of the highest
            let again = Self.run(plains[i], out.ours.protectRTP)
            #expect(again == .ok(first[i]))
            #expect(again == Self.run(plains[i], out.oracle.protectRTP))
            #expect(Self.run(first[i], inb.ours.unprotectRTP) == .refused(.replayed))
        }
        for i in [475, 10, 0] {  // 1024 or more behind: libsrtp's replay_old, outbound too
            #expect(Self.run(plains[i], out.ours.protectRTP) == .refused(.replayed))
            #expect(Self.run(plains[i], out.oracle.protectRTP) == .refused(.replayed))
            #expect(Self.run(first[i], inb.ours.unprotectRTP) == .refused(.replayed))
        }
    }

    /// Every bit flipped in a protected packet is refused with a typed error, and every truncation
    /// too; never a trap, never a plaintext.
    @Test(arguments: SRTPProfile.allCases)
    func flippedBitsAndTruncationsAreRefused(profile: SRTPProfile) throws {
        var g = SplitMix64(seed: 21)
        let (out, inb) = try Self.pairs(profile, &g)
        for n in 0..<40 {
            let plain = Self.rtp(ssrc: 1, seq: UInt16(n), &g)
            let rtcpPlain = Self.rtcp(ssrc: 1, &g)
            guard let a = Self.bytes(Self.run(plain, out.ours.protectRTP)),
                  let c = Self.bytes(Self.run(rtcpPlain, out.ours.protectRTCP)) else { Issue.record("protect"); return }
            for (packet, f) in [(a, inb.ours.unprotectRTP), (c, inb.ours.unprotectRTCP)] {
                for _ in 0..<20 {
                    var bad = packet
                    let bit = Int.random(in: 0..<bad.count * 8, using: &g)
                    bad[bit / 8] ^= 1 << UInt8(bit % 8)
                    let result = Self.run(bad, f)
                    #expect([.refused(.authenticationFailed), .refused(.malformed), .refused(.replayed)].contains(result), "bit \(bit): \(result)")
                }
                for cut in 0..<packet.count {
                    let result = Self.run(Array(packet.prefix(cut)), f)
                    guard case .refused(let e) = result, [.authenticationFailed, .malformed, .replayed].contains(e) else {
                        Issue.record("truncated to \(cut): \(result)"); return
                    }
                }
            }
            #expect(Self.run(a, inb.ours.unprotectRTP) == .ok(plain))
            #expect(Self.run(c, inb.ours.unprotectRTCP) == .ok(rtcpPlain))
        }
        // Headers whose CSRC count or extension length runs past the packet.
        let session = inb.ours
        var overrun: [UInt8] = [0x8f, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 30)
        #expect(Self.run(overrun, session.unprotectRTP) == .refused(.malformed))
        overrun = [0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0xff, 0xff] + [UInt8](repeating: 0, count: 30)
        #expect(Self.run(overrun, session.unprotectRTP) == .refused(.malformed))
        #expect(Self.run(overrun, out.ours.protectRTP) == .refused(.malformed))
    }

    /// A peer cycling through thousands of SSRCs (all authenticated) does not grow our state: the
    /// inbound table stays at its capacity, evicting the least recently used; outbound refuses
    /// SSRCs beyond its capacity rather than evicting (which would reuse nonces).
    @Test(arguments: SRTPProfile.allCases)
    func ssrcFloodDoesNotGrowState(profile: SRTPProfile) throws {
        var g = SplitMix64(seed: 33)
        let (out, inb) = try Self.pairs(profile, &g)
        for i in 0..<5_000 {
            let plain = Self.rtp(ssrc: UInt32(1_000 + i), seq: UInt16(i & 0xffff), &g)
            guard let a = Self.bytes(Self.run(plain, out.oracle.protectRTP)) else { Issue.record("libsrtp protect"); return }
            #expect(Self.run(a, inb.ours.unprotectRTP) == .ok(plain))
        }
        #expect(inb.ours.nativeSSRCCount == SRTPSession.inboundSSRCs)
        for i in 0..<1_000 {
            let result = Self.run(Self.rtp(ssrc: UInt32(i), seq: 1, &g), out.ours.protectRTP)
            if i < SRTPSession.outboundSSRCs { #expect(Self.bytes(result) != nil) } else { #expect(result == .refused(.ssrcTableFull)) }
        }
        #expect(out.ours.nativeSSRCCount == SRTPSession.outboundSSRCs)
    }

    /// Known answers independent of libsrtp: the RFC 3711 §B.3 key derivation (AES-CM session key,
    /// salt and the first 160 bits of the authentication key) and RFC 2202's HMAC-SHA1 cases through
    /// the precomputed-key MAC.
    @Test func keyDerivationAndHMACMatchTheRFCVectors() throws {
        func hex(_ s: String) -> [UInt8] {
            var out: [UInt8] = []
            var i = s.startIndex
            while i < s.endIndex {
                let j = s.index(i, offsetBy: 2)
                out.append(UInt8(s[i..<j], radix: 16)!)
                i = j
            }
            return out
        }
        let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139"), salt = hex("0EC675AD498AFEEBB6960B3AABE6")
        #expect(try NativeSRTPSession.prf(key, salt, label: 0, length: 16) == hex("C61E7A93744F39EE10734AFE3FF7A087"))
        #expect(try NativeSRTPSession.prf(key, salt, label: 2, length: 14) == hex("30CBBC08863D8C85D49DB34A9AE1"))
        #expect(try NativeSRTPSession.prf(key, salt, label: 1, length: 20) == hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
        let cases: [(key: [UInt8], data: [UInt8], mac: String)] = [
            ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8), "b617318655057264e28bc0b6fb378c8ef146be00"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            ([UInt8](repeating: 0xaa, count: 80), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8), ""),
        ]
        for c in cases where !c.mac.isEmpty {
            #expect(NativeSRTPSession.hmacSHA1(key: c.key, c.data) == hex(c.mac.uppercased()))
        }
        // Keys longer than a block are not SRTP's (20 bytes): refused rather than hashed.
        #expect(NativeSRTPSession.hmacSHA1(key: cases[2].key, cases[2].data) == nil)
    }
}
