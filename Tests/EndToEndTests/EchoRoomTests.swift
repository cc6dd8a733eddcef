import Foundation
import RelaisAuth
import RelaisServer
#if canImport(Glibc)
import Glibc
#endif
import RelaisTransport
import Testing

/// A real WebRTC stack that Relais did not write (aiortc) runs the equipment test against the real
/// relay over loopback, once per SRTP profile: it must decode its own video and audio coming back.
@Suite(.serialized) struct EchoRoomTests {
    struct PeerReport: Decodable {
        var video_frames: Int
        var audio_frames: Int
        var connection_state: String?
    }

    /// The echo test needs a participant token (any room, any role).
    static func cartToken(_ server: ServerHarness) async throws -> String {
        try await server.running.tokens.mint(AccessClaims(
            subject: "cart-7", displayName: "Cart 7", role: .cart, room: "equipment-check", expires: Date().addingTimeInterval(600)))
    }

    @Test(arguments: [SRTPProfile.aeadAES128GCM, .aes128CMSHA1_80])
    func aiortcGetsItsOwnMediaBack(profile: SRTPProfile) async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.media.transport.srtpProfiles = [profile] }

            // While the peer runs, a stranger that never passed ICE sprays the media port with
            // STUN, DTLS, RTP and RTCP lookalikes; the relay must drop them all without disturbing it.
            let mediaPort = server.running.media.localAddresses[0].port
            let junkSent = Task.detached { sprayJunk(port: mediaPort, datagrams: 3_000) }
            let result = try await runPeer(script: "aiortc_echo.py", arguments: [
                "--url", "\(server.httpBase)/v1/echo", "--token", try await Self.cartToken(server), "--duration", "40",
                "--min-video-frames", "60", "--min-audio-packets", "100", "--json",
            ])
            let sent = await junkSent.value
            #expect(sent == 3_000)
            let jsonLine = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") })
            let report = try #require(
                jsonLine.flatMap { try? JSONDecoder().decode(PeerReport.self, from: Data($0.utf8)) },
                "peer printed no report (exit \(result.status)): \(result.stderr.suffix(2000))")
            #expect(result.status == 0, "peer failed: \(result.stderr.suffix(2000))")
            #expect(report.video_frames >= 60)
            #expect(report.audio_frames >= 100)

            // The relay saw the session through with the profile it was told to use.
            let counters = try await server.running.media.counters()
            #expect(counters.reduce(0) { $0 + $1.transportsOpened } == 1)
            #expect(counters.reduce(0) { $0 + $1.dtlsFailures } == 0)
            #expect(counters.reduce(0) { $0 + $1.unrouted } >= 3_000)
            let snapshots = try await server.running.media.snapshots()
            let transport = try #require(snapshots.first)
            #expect(transport.profile == profile)
            #expect(transport.stats.rtpIn >= 160)
            #expect(transport.stats.rtpOut >= 160)
        }
    }

    /// The same check over IPv6 loopback: the relay binds ::1 and the peer offers only ::1.
    @Test func aiortcEchoOverIPv6() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.media.host = "::1" }
            let result = try await runPeer(script: "aiortc_echo.py", arguments: [
                "--url", "\(server.httpBase)/v1/echo", "--token", try await Self.cartToken(server), "--address", "::1", "--duration", "40", "--json",
            ])
            #expect(result.status == 0, "peer failed: \(result.stdout) \(result.stderr.suffix(2000))")
            let snapshots = try await server.running.media.snapshots()
            #expect(snapshots.first?.selected?.ip.isIPv4 == false)
            #expect((snapshots.first?.stats.rtpOut ?? 0) >= 160)
        }
    }
}

/// Sends `datagrams` junk datagrams to 127.0.0.1:`port` from a fresh socket; returns how many left.
func sprayJunk(port: UInt16, datagrams: Int) -> Int {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var rng = SystemRandomNumberGenerator()
    var sent = 0
    for i in 0..<datagrams {
        var junk = (0..<Int.random(in: 2...1200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        junk[0] = [0x00, 0x01, 0x16, 0x17, 0x80, 0x90, 0xFF][i % 7]
        if i % 7 == 5 { junk[1] = 0xC8 }  // RTCP sender report type
        let n = junk.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        if n == junk.count { sent += 1 }
        // Spread the spray over ~1.5 s so it overlaps the peer's handshake and media, not just setup.
        if i % 100 == 99 { usleep(50_000) }
    }
    return sent
}
