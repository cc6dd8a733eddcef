import Foundation
import Synchronization

/// A long-running child process (a relay, a client, a stream reader) whose output the test can
/// wait on line by line, and which the test can kill like an operator or a crash would.
final class ChildProcess: Sendable {
    private let process: Process
    /// Shared with the pipe and termination handlers, which outlive any one call.
    private final class Shared: Sendable {
        let output = Mutex<(text: String, waiters: [(String, CheckedContinuation<Bool, Never>)])>(("", []))
        let exitStatus = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))
    }

    private let shared = Shared()

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let shared = self.shared
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            let ready = shared.output.withLock { state in
                state.text += String(decoding: data, as: UTF8.self)
                let text = state.text
                let ready = state.waiters.filter { text.contains($0.0) }
                state.waiters.removeAll { text.contains($0.0) }
                return ready.map(\.1)
            }
            for waiter in ready { waiter.resume(returning: true) }
        }
        process.terminationHandler = { process in
            let waiters = shared.exitStatus.withLock { state in
                state.status = process.terminationStatus
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: process.terminationStatus) }
            // Whoever still waits for output waits in vain now.
            let pending = shared.output.withLock { state in
                defer { state.waiters = [] }
                return state.waiters.map(\.1)
            }
            for waiter in pending { waiter.resume(returning: false) }
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var text: String { shared.output.withLock { $0.text } }

    /// Waits until the output contains `needle`; false on timeout or when the process exited first.
    func waitForOutput(_ needle: String, timeout: Duration = .seconds(30)) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { [shared] in
                await withCheckedContinuation { (waiter: CheckedContinuation<Bool, Never>) in
                    let now = shared.output.withLock { state -> Bool? in
                        if state.text.contains(needle) { return true }
                        if shared.exitStatus.withLock({ $0.status }) != nil { return false }
                        state.waiters.append((needle, waiter))
                        return nil
                    }
                    if let now { waiter.resume(returning: now) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            if !first { self.releaseWaiters(for: needle) }
            return first
        }
    }

    private func releaseWaiters(for needle: String) {
        let stale = shared.output.withLock { state in
            defer { state.waiters.removeAll { $0.0 == needle } }
            return state.waiters.filter { $0.0 == needle }.map(\.1)
        }
        for waiter in stale { waiter.resume(returning: false) }
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// The exit status, once the process has exited.
    func wait() async -> Int32 {
        await withCheckedContinuation { (waiter: CheckedContinuation<Int32, Never>) in
            let status = shared.exitStatus.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(waiter)
                return nil
            }
            if let status { waiter.resume(returning: status) }
        }
    }

    /// Kills the process if it still runs (test cleanup).
    func stop() async {
        if process.isRunning { signal(SIGKILL) }
        _ = await wait()
    }
}
