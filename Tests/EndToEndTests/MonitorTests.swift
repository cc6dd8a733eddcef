import Foundation
import RelaisAuth
import RelaisServer
import RelaisSignaling
import Testing

/// `relais-monitor` (the real executable) against the real relay's admin API (AdminAPI/ADMIN.md):
/// a live `relais-client` cart shows up in `sessions --json` (valid against
/// AdminAPI/schemas/sessions.schema.json) and on the `watch` screen through a pseudo-terminal,
/// which Ctrl-C restores; refused and missing tokens and an unreachable relay give their exit
/// statuses. Needs the server side of the admin API and `swift build` of relais-monitor and
/// relais-client.
@Suite(.serialized) struct MonitorTests {
    static let secret = "monitor-test-secret-0123456789-abcdefgh"

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var monitorBinary: String { builtExecutable("relais-monitor") }
    static var clientBinary: String { builtExecutable("relais-client") }
    static var sessionsSchema: String { root.appendingPathComponent("AdminAPI/schemas/sessions.schema.json").path }

    static func monitor(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> ProcessResult {
        try await runProcess(monitorBinary, arguments: arguments, timeout: timeout)
    }

    static func operatorToken(_ server: ServerHarness) async throws -> String {
        try await server.running.tokens.mintOperator(OperatorClaims(subject: "op-test", displayName: "Test operator", expires: Date().addingTimeInterval(600)))
    }

    /// Polls `sessions --json` until `room` is live with a participant; returns that output.
    static func waitForRoom(_ room: String, server: String, token: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let result = try await monitor(["sessions", "--json", "--server", server, "--token", token])
            if result.status == 0, result.stdout.contains("\"room\":\"\(room)\""), result.stdout.contains("\"participants\":[{") {
                return result.stdout
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        Issue.record("room \(room) never showed up in relais-monitor sessions --json")
        return ""
    }

    @Test func liveRoomInSessionsJSONAndOnTheWatchScreen() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.monitorBinary), "build relais-monitor first (swift build)")
        try #require(FileManager.default.isExecutableFile(atPath: Self.clientBinary), "build relais-client first (swift build)")
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.signaling.tokenSecret = Self.secret }
            let token = try await Self.operatorToken(server)
            let room = "monitor-stroke-1"
            async let cart = runProcess(Self.clientBinary, arguments: [
                "--url", "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling", "--room", room, "--token-secret", Self.secret,
                "--role", "cart", "--name", "ER cart 3", "--duration", "25", "--width", "320", "--height", "240", "--bitrate", "300",
            ], timeout: .seconds(60))

            // sessions --json: the room, valid against the schema.
            let json = try await Self.waitForRoom(room, server: server.httpBase, token: token)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("sessions-\(UUID().uuidString).json")
            try Data(json.utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let validation = try await runProcess("/usr/bin/env", arguments: ["python3", "-c", """
                import json, sys, jsonschema
                jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))
                """, Self.sessionsSchema, file.path], timeout: .seconds(30))
            #expect(validation.status == 0, "sessions --json does not match the schema: \(validation.stderr.suffix(1500))")

            // The table and the detail view show the cart.
            let table = try await Self.monitor(["sessions", "--server", server.httpBase, "--token", token])
            #expect(table.status == 0)
            #expect(table.stdout.contains(room))
            let show = try await Self.monitor(["show", room, "--server", server.httpBase, "--token", token])
            #expect(show.status == 0, "\(show.stderr)")
            #expect(show.stdout.contains("ER cart 3"))
            #expect(show.stdout.contains("publish: "))

            // watch in a pseudo-terminal: the screen shows the room; SIGINT restores the terminal.
            let pty = try await runProcess("/usr/bin/env", arguments: ["python3", "-c", Self.ptyScript, Self.monitorBinary, room,
                                                                       "watch", "--server", server.httpBase, "--token", token],
                                           timeout: .seconds(60))
            #expect(pty.status == 0, "watch through a pty: \(pty.stdout.suffix(2000)) \(pty.stderr.suffix(1000))")
            #expect(pty.stdout.contains("screen showed the room"))
            #expect(pty.stdout.contains("restored"))

            let cartResult = try await cart
            #expect(cartResult.status == 0, "\(cartResult.stderr.suffix(1000))")
        }
    }

    /// Runs relais-monitor in a pty (pexpect), waits for the room on the screen, sends SIGINT, and
    /// checks that the alternate screen was entered, left (`ESC[?1049l`) last, and the exit clean.
    static let ptyScript = #"""
        import os, signal, sys, pexpect
        binary, room, args = sys.argv[1], sys.argv[2], sys.argv[3:]
        child = pexpect.spawn(binary, args, dimensions=(50, 200), timeout=20, env={**os.environ, "TERM": "xterm"})
        child.expect_exact("\x1b[?1049h")
        child.expect_exact(room)
        print("screen showed the room")
        child.kill(signal.SIGINT)
        child.expect(pexpect.EOF, timeout=10)
        tail = child.before
        child.close()
        status = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
        print("exit", status, "tail", repr(tail[-80:]))
        if not tail.rstrip(b"\r\n").endswith(b"\x1b[?1049l"):
            print("terminal not restored last"); sys.exit(1)
        if status not in (0, 130):
            sys.exit(2)
        print("restored")
        """#

    @Test func refusedTokensMissingTokenAndUnreachableRelay() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.monitorBinary), "build relais-monitor first (swift build)")
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.signaling.tokenSecret = Self.secret }
            let base = server.httpBase
            let participant = try await server.running.tokens.mint(AccessClaims(
                subject: "dr-x", displayName: "Dr. X", role: .expert, room: "r", expires: Date().addingTimeInterval(600)))
            let forbidden = try await Self.monitor(["sessions", "--server", base, "--token", participant])
            #expect(forbidden.status == 4)
            #expect(forbidden.stderr.contains("the relay refused the operator token (forbidden)"), "\(forbidden.stderr)")
            let forged = try await Self.monitor(["sessions", "--server", base, "--token", "not.a.jwt"])
            #expect(forged.status == 4)
            #expect(forged.stderr.contains("the relay refused the operator token (unauthorized)"), "\(forged.stderr)")
            let token = try await Self.operatorToken(server)
            let missing = try await Self.monitor(["show", "c-does-not-exist", "--server", base, "--token", token])
            #expect(missing.status == 5, "\(missing.stderr)")
            let none = try await Self.monitor(["sessions", "--server", base, "--token", ""])
            #expect(none.status == 2)
            #expect(none.stderr.contains("relais-server token --operator --name NAME"))
            await server.stop()  // early, on purpose: the relay is then unreachable
            let down = try await Self.monitor(["sessions", "--server", base, "--token", token])
            #expect(down.status == 3)
            #expect(down.stderr.contains("relais-monitor: cannot reach the relay at \(base): connection refused"), "\(down.stderr)")
        }
    }
}
