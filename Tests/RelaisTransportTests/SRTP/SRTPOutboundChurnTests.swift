@testable import RelaisTransport
import Testing

/// Outbound SSRC churn (issue 13): a relay adds and removes consumers on one subscriber transport
/// for as long as the consultation lasts. Retired SSRCs give their slot
/// back when a new SSRC needs it, a reclaimed SSRC is refused rather than restarted at index 0
/// (which would repeat keystream, RFC 3711 §9.1), and a retired SSRC that comes back before its
/// slot was reclaimed continues its indices.
@Suite struct SRTPOutboundChurnTests {
    static func rtp(ssrc: UInt32, seq: UInt16) -> [UInt8] {
        [0x80, 96, UInt8(seq >> 8), UInt8(seq & 0xff), 0, 0, 0, 1,
         UInt8(ssrc >> 24), UInt8(ssrc >> 16 & 0xff), UInt8(ssrc >> 8 & 0xff), UInt8(ssrc & 0xff)]
            + [UInt8](repeating: 0x42, count: 100)
    }

    static func protect(_ session: SRTPSession, ssrc: UInt32, seq: UInt16) -> Result<Int, SRTPError> {
        let packet = rtp(ssrc: ssrc, seq: seq)
        var buffer = packet + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        do {
            return .success(try buffer.withUnsafeMutableBytes { (b) throws(SRTPError) -> Int in try session.protectRTP(b, length: packet.count) })
        } catch let error as SRTPError {
            return .failure(error)
        } catch {
            return .failure(.other(code: -1))
        }
    }

    @Test(arguments: SRTPProfile.allCases)
    func retiredSlotsAreReclaimedAndNeverRestarted(profile: SRTPProfile) throws {
        let session = try SRTPSession(
            profile: profile, key: [UInt8](repeating: 7, count: profile.keyLength), salt: [UInt8](repeating: 9, count: profile.saltLength),
            direction: .outbound, backend: .native, ssrcCapacity: 16)
        // Without retiring, the table fills: the 17th SSRC is refused.
        for ssrc in UInt32(1)...16 { #expect((try? Self.protect(session, ssrc: ssrc, seq: 1).get()) != nil) }
        #expect(Self.protect(session, ssrc: 17, seq: 1) == .failure(.ssrcTableFull))
        // Half of them are removed consumers.
        for ssrc in UInt32(9)...16 { session.retireOutbound(ssrc: ssrc) }
        // Churn: 300 consumers, each retired when the next one starts.
        for ssrc in UInt32(100)..<400 {
            #expect((try? Self.protect(session, ssrc: ssrc, seq: 1).get()) != nil)
            session.retireOutbound(ssrc: ssrc)
        }
        // The most recent retired SSRC is still held: it continues (index 2 after 1).
        #expect((try? Self.protect(session, ssrc: 399, seq: 2).get()) != nil)
        // An early one was reclaimed: refused, not restarted at index 0.
        #expect(Self.protect(session, ssrc: 100, seq: 1) == .failure(.ssrcRetired))
        #expect(Self.protect(session, ssrc: 100, seq: 500) == .failure(.ssrcRetired))
        // Live SSRCs were never reclaimed.
        for ssrc in UInt32(1)...8 { #expect((try? Self.protect(session, ssrc: ssrc, seq: 2).get()) != nil) }
    }
}
