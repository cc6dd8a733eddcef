import Foundation
import Logging
import RelaisServer
import RelaisTransport
import Testing

/// Runs the real relay in-process on loopback with OS-chosen ports, for end-to-end tests.
final class ServerHarness: Sendable {
    let running: RunningServer
    private let task: Task<Void, any Error>

    private init(running: RunningServer, task: Task<Void, any Error>) {
        self.running = running
        self.task = task
    }

    var httpBase: String { "http://127.0.0.1:\(running.httpPort)" }

    static func start(configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> ServerHarness {
        var configuration = ServerConfiguration()
        configuration.httpPort = 0
        configuration.media.port = 0
        configure(&configuration)
        var logger = Logger(label: "relais-test")
        logger.logLevel = ProcessInfo.processInfo.environment["RELAIS_TEST_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        let app = RelaisServerApp(configuration: configuration, logger: logger)
        let (stream, continuation) = AsyncStream<RunningServer>.makeStream()
        let task = Task {
            try await app.run { running in
                continuation.yield(running)
                continuation.finish()
            }
        }
        var iterator = stream.makeAsyncIterator()
        guard let running = await iterator.next() else {
            task.cancel()
            throw HarnessError.serverDidNotStart
        }
        return ServerHarness(running: running, task: task)
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

enum HarnessError: Error {
    case serverDidNotStart
    case peerTimedOut(String)
}

/// Result of a child process.
struct ProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a real peer (a Python script using aiortc) to completion, with a hard deadline so a stuck
/// peer fails the test instead of hanging CI.
func runPeer(script: String, arguments: [String], timeout: Duration = .seconds(90)) async throws -> ProcessResult {
    try await runScript(peerScriptPath(script), arguments: arguments, timeout: timeout)
}

/// Runs a Python script to completion, with a hard deadline.
func runScript(_ path: String, arguments: [String], timeout: Duration) async throws -> ProcessResult {
    try await runProcess("/usr/bin/env", arguments: ["python3", path] + arguments, timeout: timeout)
}

/// Runs an executable to completion, with a hard deadline so a stuck process fails the test.
func runProcess(_ executable: String, arguments: [String], timeout: Duration) async throws -> ProcessResult {
    let script = URL(fileURLWithPath: arguments.first { $0.hasSuffix(".py") } ?? executable).lastPathComponent
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let (exits, exited) = AsyncStream<Int32>.makeStream()
    process.terminationHandler = { exited.yield($0.terminationStatus); exited.finish() }
    try process.run()
    // Read both pipes concurrently so a chatty peer never blocks on a full pipe. The reads block,
    // so they run on Dispatch threads: on the cooperative pool (2 threads on a 2-core machine)
    // they would starve the in-process server under test.
    async let stdoutData = readToEnd(out.fileHandleForReading)
    async let stderrData = readToEnd(err.fileHandleForReading)
    let status = try await withThrowingTaskGroup(of: Int32.self) { group in
        group.addTask {
            for await status in exits { return status }
            return -1
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            process.terminate()
            throw HarnessError.peerTimedOut(script)
        }
        let first = try await group.next() ?? -1
        group.cancelAll()
        return first
    }
    return ProcessResult(
        status: status,
        stdout: String(decoding: await stdoutData, as: UTF8.self),
        stderr: String(decoding: await stderrData, as: UTF8.self))
}

private func readToEnd(_ handle: FileHandle) async -> Data {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
    }
}

/// Absolute path of a peer script kept beside these tests.
func peerScriptPath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("peers").appendingPathComponent(name).path
}
