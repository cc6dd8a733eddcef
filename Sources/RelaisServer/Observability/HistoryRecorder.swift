import Foundation
import Logging
import NIOPosix
public import RelaisHistory
import Synchronization

/// Writes history and audit rows to SQLite on a thread pool, in order, without making a room wait.
///
/// Rooms enqueue records (never blocking); one writer drains them, each record its own committed
/// transaction, so what reached the database survives a `kill -9`. The queue is bounded: under a
/// storm beyond what the disk takes, the oldest records are kept and the excess is counted.
public final class HistoryRecorder: Sendable {
    enum Record: Sendable {
        case consultationStarted(id: String, room: String, at: Date)
        case consultationEnded(id: String, at: Date, reason: String)
        case participantJoined(consultation: String, participant: String, subject: String, name: String, role: String, at: Date)
        case participantLeft(consultation: String, participant: String, reason: String, at: Date)
        case cameraCommand(CameraCommandRecord)
        case error(ErrorRecord)
    }

    public let store: HistoryStore
    private let continuation: AsyncStream<Record>.Continuation
    private let writer: Task<Void, Never>
    private let progress = Progress()
    static let queueCapacity = 65_536

    /// Records enqueued and written, and who waits for the writer to catch up.
    private final class Progress: Sendable {
        let state = Mutex<(enqueued: Int, written: Int, dropped: Int, waiters: [(Int, CheckedContinuation<Void, Never>)])>((0, 0, 0, []))
    }

    init(store: HistoryStore, logger: Logger) {
        self.store = store
        let (stream, continuation) = AsyncStream<Record>.makeStream(bufferingPolicy: .bufferingOldest(Self.queueCapacity))
        self.continuation = continuation
        let progress = self.progress
        writer = Task {
            for await record in stream {
                do {
                    try await NIOThreadPool.singleton.runIfActive { try Self.write(record, to: store) }
                } catch {
                    logger.error("history write failed", metadata: ["error": "\(error)"])
                }
                let ready = progress.state.withLock { state in
                    state.written += 1
                    let written = state.written
                    let ready = state.waiters.filter { $0.0 <= written }.map(\.1)
                    state.waiters.removeAll { $0.0 <= written }
                    return ready
                }
                for waiter in ready { waiter.resume() }
            }
        }
    }

    func record(_ record: Record) {
        switch continuation.yield(record) {
        case .enqueued:
            progress.state.withLock { $0.enqueued += 1 }
        case .dropped, .terminated:
            progress.state.withLock { $0.dropped += 1 }
        @unknown default:
            break
        }
    }

    /// Records dropped because the queue was full.
    public var dropped: Int { progress.state.withLock { $0.dropped } }

    /// Returns once every record enqueued before the call is in the database.
    public func flush() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let done = progress.state.withLock { state in
                if state.written >= state.enqueued { return true }
                state.waiters.append((state.enqueued, waiter))
                return false
            }
            if done { waiter.resume() }
        }
    }

    /// Drains the queue and stops the writer.
    public func finish() async {
        continuation.finish()
        await writer.value
    }

    /// Runs a read on the thread pool (SQLite calls block).
    func read<T: Sendable>(_ body: @escaping @Sendable (HistoryStore) throws -> T) async throws -> T {
        let store = self.store
        return try await NIOThreadPool.singleton.runIfActive { try body(store) }
    }

    private static func write(_ record: Record, to store: HistoryStore) throws {
        switch record {
        case .consultationStarted(let id, let room, let at):
            try store.consultationStarted(id: id, room: room, at: at)
        case .consultationEnded(let id, let at, let reason):
            try store.consultationEnded(id: id, at: at, reason: reason)
        case .participantJoined(let consultation, let participant, let subject, let name, let role, let at):
            try store.participantJoined(consultation: consultation, participant: participant, subject: subject, name: name, role: role, at: at)
        case .participantLeft(let consultation, let participant, let reason, let at):
            try store.participantLeft(consultation: consultation, participant: participant, reason: reason, at: at)
        case .cameraCommand(let command):
            try store.cameraCommand(command)
        case .error(let error):
            try store.error(error)
        }
    }
}
