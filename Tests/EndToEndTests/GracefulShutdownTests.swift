import Foundation
import RelaisAuth
import RelaisSignaling
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `relais-server` process, stopped with SIGTERM as an init system would: every connected
/// participant is told `left: shutdown` and closed with 1001, and the process exits cleanly.
@Suite(.serialized) struct GracefulShutdownTests {
    static let secret = "shutdown-test-secret-0123456789-abcdef-42"

    /// The executable the test build produced beside the test bundle.
    static var serverBinary: URL { URL(fileURLWithPath: builtExecutable("relais-server")) }

    /// SIGTERM (15) from an init system, SIGINT (2) from an operator's Ctrl-C.
    @Test(arguments: [Int32(15), Int32(2)])
    func participantsAreToldAndTheProcessExitsCleanly(signal: Int32) async throws {
        let binary = Self.serverBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build relais-server first (swift build)")
        let server = Process()
        server.executableURL = binary
        server.arguments = [
            "--http-port", "0", "--media-port", "0", "--media-loops", "1", "--token-secret", Self.secret, "--log-level", "info",
        ]
        let serverOut = Pipe()
        server.standardOutput = serverOut
        server.standardError = serverOut
        let (exits, exited) = AsyncStream<Int32>.makeStream()
        server.terminationHandler = { exited.yield($0.terminationStatus); exited.finish() }
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        // Watchdog: a stuck process fails the test instead of hanging CI (closing its pipes ends the reads).
        let watchdog = Task.detached { [server] in
            try await Task.sleep(for: .seconds(90))
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
        }
        defer { watchdog.cancel() }

        // The ready line names the signaling URL (the OS chose the port).
        let lines = LineReader(serverOut.fileHandleForReading)
        var url: String?
        while url == nil, let line = await lines.next() {
            if line.contains("relais-server ready"), let range = line.range(of: #"ws://[0-9.:]+/v1/signaling"#, options: .regularExpression) {
                url = String(line[range])
            }
        }
        let signaling = try #require(url, "the server never said it was ready")

        let tokens = try await TokenAuthority(secret: Self.secret)
        let token = try await tokens.mint(AccessClaims(
            subject: "n1", displayName: "Dr. N", role: .expert, room: "night-shift", expires: Date().addingTimeInterval(600)))
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["python3", peerScriptPath("signaling_client.py"), "--url", signaling, "--room", "night-shift", "--token", token]
        let clientOut = Pipe()
        client.standardOutput = clientOut
        try client.run()
        defer { if client.isRunning { client.terminate() } }
        let clientWatchdog = Task.detached { [client] in
            try await Task.sleep(for: .seconds(90))
            if client.isRunning { client.terminate() }
        }
        defer { clientWatchdog.cancel() }
        let clientLines = LineReader(clientOut.fileHandleForReading)
        let joined = await clientLines.next()
        #expect(joined == "joined")

        kill(server.processIdentifier, signal)
        let report = await clientLines.next()
        struct Report: Decodable {
            struct Message: Decodable { var type: String; var reason: String? }
            var messages: [Message]
            var close_code: Int?
        }
        let decoded = try #require(report.flatMap { try? JSONDecoder().decode(Report.self, from: Data($0.utf8)) }, "client said \(report ?? "nothing")")
        #expect(decoded.messages.last?.type == "left")
        #expect(decoded.messages.last?.reason == "shutdown")
        #expect(decoded.close_code == 1001)

        var status: Int32?
        for await s in exits { status = s }
        #expect(status == 0, "relais-server exited with \(status.map(String.init) ?? "?") after the signal")
    }
}

/// Reads lines from a pipe on a Dispatch thread (blocking reads stay off the cooperative pool).
/// Used from one task at a time; a stuck process is ended by the test's watchdog, which closes the
/// pipe and ends the lines.
final class LineReader: @unchecked Sendable {
    private var iterator: AsyncStream<String>.AsyncIterator

    init(_ handle: FileHandle) {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        self.iterator = stream.makeAsyncIterator()
        DispatchQueue.global().async {
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 0x0A) {
                    continuation.yield(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            continuation.finish()
        }
    }

    func next() async -> String? {
        await iterator.next()
    }
}
