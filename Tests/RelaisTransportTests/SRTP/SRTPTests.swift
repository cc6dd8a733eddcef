@testable import RelaisTransport
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
        #expect(protectedLength == plain.count + (profile == .aeadAES128GCM ? 16 : 10))
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

    @Test func shortAndGarbageInputIsRefused() throws {
        let (_, serverKeys) = Self.keys(.aes128CMSHA1_80)
        let server = try SRTPContext(keys: serverKeys)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let count = Int.random(in: 0...200, using: &rng)
            var junk = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) } + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
            if count > 0 { junk[0] = 0x80 }
            _ = try? junk.withUnsafeMutableBytes { try server.inbound.unprotectRTP($0, length: count) }
            _ = try? junk.withUnsafeMutableBytes { try server.inbound.unprotectRTCP($0, length: count) }
        }
    }
}
