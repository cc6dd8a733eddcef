import Foundation
import RelaisServer
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Remote camera control end to end: a `relais-client` expert steers a `relais-client` cart's
/// simulated camera through the relay, with other rooms carrying video meanwhile.
@Suite(.serialized) struct CameraControlTests {
    static let secret = HeadlessClientTests.secret

    struct Final: Decodable {
        struct Report: Decodable {
            struct PTZ: Decodable {
                var commandsSent: Int
                var acknowledged: Int
                var failed: Int
                var refused: [String]
                var ackMillisecondsP50: Double?
                var ackMillisecondsP99: Double?
                var positionMismatches: [String]
                var movesAcknowledged: Int
            }
            struct Camera: Decodable {
                var commandsExecuted: Int
                var stops: Int
                var relayStops: Int
                var moveToStopMilliseconds: [Double]
            }
            var ptz: PTZ?
            var camera: Camera?
        }
        var report: Report
        var thresholdFailures: [String]?
    }

    static func final(_ output: String) throws -> Final {
        let line = output.split(separator: "\n").last { $0.contains(#""type":"final""#) }
        return try #require(line.flatMap { try? JSONDecoder().decode(Final.self, from: Data($0.utf8)) }, "no final report: \(output.suffix(1500))")
    }

    static var script: String { peerScriptPath("ptz/preset-and-back.json") }

    @Test func expertSteersTheCartCameraToAPresetAndBackWhileTenRoomsCarryVideo() async throws {
        let server = try await ServerHarness.start { $0.signaling.tokenSecret = Self.secret }
        defer { Task { await server.stop() } }
        let url = "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling"
        async let load = HeadlessClientTests.client([
            "load", "--url", url, "--token-secret", Self.secret, "--rooms", "10", "--experts-per-room", "2", "--duration", "20", "--json",
        ], timeout: .seconds(90))
        // The camera session starts once the other rooms carry media (30 transports connected), so
        // it is measured under load, not during the load's join storm.
        let ready = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < ready {
            let snapshots = try await server.running.media.snapshots()
            if snapshots.filter({ $0.connected && $0.stats.rtpIn + $0.stats.rtpOut > 100 }).count >= 30 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let room = ["--url", url, "--room", "ptz-1", "--token-secret", Self.secret]
        async let cart = HeadlessClientTests.client(room + [
            "--role", "cart", "--name", "ER cart", "--duration", "14", "--width", "320", "--height", "240", "--bitrate", "300", "--json",
        ])
        let expert = try await HeadlessClientTests.client(room + [
            "--role", "expert", "--name", "Dr. N", "--no-publish", "--duration", "8", "--ptz-script", Self.script,
            "--expect-max-ack-ms", "20", "--json",
        ])
        let cartResult = try await cart
        let loadResult = try await load

        let report = try Self.final(expert.stdout)
        #expect(expert.status == 0, "thresholds: \(report.thresholdFailures ?? []) \(expert.stderr.suffix(800))")
        let ptz = try #require(report.report.ptz)
        #expect(ptz.commandsSent == 9)
        #expect(ptz.acknowledged == ptz.commandsSent, "refused: \(ptz.refused)")
        #expect(ptz.positionMismatches.isEmpty, "\(ptz.positionMismatches)")
        #expect(ptz.movesAcknowledged >= 4)
        #expect((ptz.ackMillisecondsP99 ?? 1000) < 20)

        // The cart executed them, and the relay itself stopped the move the expert left running.
        let camera = try #require(try Self.final(cartResult.stdout).report.camera)
        #expect(camera.relayStops >= 1)
        #expect(camera.stops >= 2)
        let deadman = try #require(camera.moveToStopMilliseconds.max())
        #expect(deadman >= 450 && deadman <= 600, "deadman stop after \(deadman) ms")

        // Every command went into the audit trail, the relay's own stop included.
        let audit = await server.running.cameraAudit()
        #expect(audit.filter { $0.room == "ptz-1" }.count >= ptz.commandsSent)
        #expect(audit.contains { "\($0.record.outcome)".contains("deadmanStop") })
        #expect(loadResult.status == 0, "load: \(loadResult.stdout.suffix(800))")
    }

    @Test func theCameraStopsWhenTheControllerVanishes() async throws {
        let server = try await ServerHarness.start { $0.signaling.tokenSecret = Self.secret }
        defer { Task { await server.stop() } }
        let room = ["--url", "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling", "--room", "ptz-2", "--token-secret", Self.secret]
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("ptz-vanish-\(UUID().uuidString).json")
        try Data(#"[{"floorRequest": "main"}, {"move": {"pan": 0.3, "tilt": 0, "zoom": 0}, "forMs": 20000, "everyMs": 100}]"#.utf8).write(to: script)
        defer { try? FileManager.default.removeItem(at: script) }

        let cart = Process()
        cart.executableURL = URL(fileURLWithPath: HeadlessClientTests.clientBinary)
        cart.arguments = room + ["--role", "cart", "--duration", "12", "--width", "320", "--height", "240", "--bitrate", "300", "--json"]
        let cartOut = Pipe()
        cart.standardOutput = cartOut
        try cart.run()
        defer { if cart.isRunning { cart.terminate() } }
        let expert = Process()
        expert.executableURL = URL(fileURLWithPath: HeadlessClientTests.clientBinary)
        expert.arguments = room + ["--role", "expert", "--no-publish", "--duration", "30", "--ptz-script", script.path]
        expert.standardOutput = FileHandle.nullDevice
        try expert.run()
        defer { if expert.isRunning { expert.terminate() } }
        let watchdog = Task.detached { [cart, expert] in
            try await Task.sleep(for: .seconds(60))
            if cart.isRunning { kill(cart.processIdentifier, SIGKILL) }
            if expert.isRunning { kill(expert.processIdentifier, SIGKILL) }
        }
        defer { watchdog.cancel() }

        // Once the cart has executed a few moves, the expert's process dies without a word.
        let lines = LineReader(cartOut.fileHandleForReading)
        var killed = false
        var last = ""
        while let line = await lines.next() {
            last = line
            if !killed, line.contains(#""type":"progress""#), let executed = Self.executed(Substring(line)), executed >= 5 {
                kill(expert.processIdentifier, SIGKILL)
                killed = true
            }
        }
        #expect(killed, "the cart never executed moves")
        let camera = try #require(try Self.final(String(last)).report.camera)
        #expect(camera.relayStops >= 1, "the relay did not stop the camera")
        let stop = try #require(camera.moveToStopMilliseconds.last)
        #expect(stop < 600, "stopped \(stop) ms after the last move")
    }

    static func executed(_ line: Substring) -> Int? {
        guard let range = line.range(of: #""commandsExecuted":"#) else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }
}
