import Foundation
import RelaisServer
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

    @Test(arguments: [SRTPProfile.aeadAES128GCM, .aes128CMSHA1_80])
    func aiortcGetsItsOwnMediaBack(profile: SRTPProfile) async throws {
        let server = try await ServerHarness.start { $0.media.transport.srtpProfiles = [profile] }
        defer { Task { await server.stop() } }

        let result = try await runPeer(script: "aiortc_echo.py", arguments: [
            "--url", "\(server.httpBase)/v1/echo", "--duration", "40",
            "--min-video-frames", "60", "--min-audio-packets", "100", "--json",
        ])
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
        let snapshots = try await server.running.media.snapshots()
        let transport = try #require(snapshots.first)
        #expect(transport.profile == profile)
        #expect(transport.stats.rtpIn >= 160)
        #expect(transport.stats.rtpOut >= 160)
        await server.stop()
    }
}
