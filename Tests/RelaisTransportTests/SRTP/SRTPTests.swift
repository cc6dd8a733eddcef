@testable import RelaisTransport
import TestSupport
import RelaisWire
import Testing

@Suite struct SRTPTests {
    static func keys(_ profile: SRTPProfile) -> (SRTPKeyingMaterial, SRTPKeyingMaterial) {
        var g = SystemRandomNumberGenerator()
        let exported = (0..<2 * (profile.keyLength + profile.saltLength)).map { _ in UInt8.random(in: 0...255, using: &g) }
        return (SRTPKeyingMaterial(profile: profile, exported: exported, isClient: true),
                SRTPKeyingMaterial(profile: profile, exported: exported, isClient: false))
    }

    @Test(arguments: SRTPProfile.allCases)
    func protectThenUnprotectRestoresRTPAndRTCP(profile: SRTPProfile) throws {
        let (clientKeys, serverKeys) = Self.keys(profile)
        let client = try SRTPContext(keys: clientKeys)
        let server = try SRTPContext(keys: serverKeys)
        let packet = RTPPacket(payloadType: PayloadType(111), sequenceNumber: SequenceNumber(9), timestamp: 960, ssrc: SSRC(42), payload: Array(repeating: 7, count: 1200 - 12))
        let plain = packet.serialized()
        var buffer = plain + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let protectedLength = try buffer.withUnsafeMutableBytes { try client.outbound.protectRTP($0, length: plain.count) }
        #expect(protectedLength == plain.count + profile.rtpTagLength)
        #expect(Array(buffer[12..<plain.count]) != Array(plain[12...]))  // payload encrypted
        let n = try buffer.withUnsafeMutableBytes { try server.inbound.unprotectRTP($0, length: protectedLength) }
        #expect(Array(buffer.prefix(n)) == plain)

        let rr: [UInt8] = [0x80, 201, 0, 1, 0, 0, 0, 42]
        var rtcp = rr + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let m = try rtcp.withUnsafeMutableBytes { try server.outbound.protectRTCP($0, length: rr.count) }
        let back = try rtcp.withUnsafeMutableBytes { try client.inbound.unprotectRTCP($0, length: m) }
        #expect(Array(rtcp.prefix(back)) == rr)
    }

    @Test func wrongKeyFailsAuthentication() throws {
        let (clientKeys, _) = Self.keys(.aeadAES128GCM)
        let (_, otherServer) = Self.keys(.aeadAES128GCM)
        let client = try SRTPContext(keys: clientKeys)
        let server = try SRTPContext(keys: otherServer)
        let plain = RTPPacket(payloadType: PayloadType(96), sequenceNumber: SequenceNumber(1), timestamp: 0, ssrc: SSRC(1), payload: [1, 2, 3]).serialized()
        var buffer = plain + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let len = try buffer.withUnsafeMutableBytes { try client.outbound.protectRTP($0, length: plain.count) }
        #expect(throws: SRTPError.authenticationFailed) {
            _ = try buffer.withUnsafeMutableBytes { try server.inbound.unprotectRTP($0, length: len) }
        }
    }

    /// Every garbage, truncated or tampered input is refused with an error, for both profiles: an
    /// unprotect that returned a length would hand unauthenticated bytes to the relay (RFC 3711 §3.3,
    /// RFC 7714 §9.3). Seeded, so a failure names an input that can be replayed.
    @Test(arguments: SRTPProfile.allCases)
    func shortAndGarbageInputIsRefused(profile: SRTPProfile) throws {
        let (clientKeys, serverKeys) = Self.keys(profile)
        let client = try SRTPContext(keys: clientKeys)
        let server = try SRTPContext(keys: serverKeys)
        var rng = SplitMix64(seed: 0x5EED_0000 + UInt64(profile.saltLength))
        var accepted: [String] = []
        for round in 0..<2_000 {
            let count = Int.random(in: 0...200, using: &rng)
            var junk = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) } + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
            if count > 0 { junk[0] = 0x80 }
            if count > 1, round.isMultiple(of: 2) { junk[1] = 201 }  // RTCP-shaped half of the time
            let rtp = try? junk.withUnsafeMutableBytes { try server.inbound.unprotectRTP($0, length: count) }
            let rtcp = try? junk.withUnsafeMutableBytes { try server.inbound.unprotectRTCP($0, length: count) }
            if rtp != nil || rtcp != nil { accepted.append("round \(round): \(count) bytes (rtp \(rtp.map(String.init) ?? "-"), rtcp \(rtcp.map(String.init) ?? "-"))") }
        }
        #expect(accepted.isEmpty, "garbage accepted: \(accepted.prefix(5))")

        // A genuine packet, truncated at every length or with one bit flipped, is refused too.
        let plain = RTPPacket(payloadType: PayloadType(96), sequenceNumber: SequenceNumber(7), timestamp: 90, ssrc: SSRC(5), payload: Array(repeating: 3, count: 100)).serialized()
        var sealed = plain + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let length = try sealed.withUnsafeMutableBytes { try client.outbound.protectRTP($0, length: plain.count) }
        let packet = Array(sealed.prefix(length))
        for cut in 0..<length {
            var copy = Array(packet.prefix(cut)) + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
            #expect(throws: (any Error).self, "accepted \(cut) of \(length) bytes") {
                _ = try copy.withUnsafeMutableBytes { try server.inbound.unprotectRTP($0, length: cut) }
            }
        }
        for bit in stride(from: 12 * 8, to: length * 8, by: 37) {
            var copy = packet + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
            copy[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: (any Error).self, "accepted a packet with bit \(bit) flipped") {
                _ = try copy.withUnsafeMutableBytes { try server.inbound.unprotectRTP($0, length: length) }
            }
        }
        // And the genuine one still passes: the refusals above did not poison the context.
        var intact = packet + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let n = try intact.withUnsafeMutableBytes { try server.inbound.unprotectRTP($0, length: length) }
        #expect(Array(intact.prefix(n)) == plain)
    }
}

