public import RelaisAdmin
import Synchronization

/// Fans session events out to the admin API's live streams.
///
/// Publishing never waits: each subscriber has a bounded buffer that keeps the newest events, so a
/// slow operator's terminal can lose old lines but never slows a room.
public final class SessionEventHub: Sendable {
    private let subscribers = Mutex<(next: Int, continuations: [Int: AsyncStream<SessionEvent>.Continuation])>((0, [:]))
    static let bufferPerSubscriber = 1024

    public init() {}

    public func publish(_ event: SessionEvent) {
        let continuations = subscribers.withLock { Array($0.continuations.values) }
        for continuation in continuations { continuation.yield(event) }
    }

    /// A stream of the events published from now on; ends when the consumer stops iterating.
    public func subscribe() -> AsyncStream<SessionEvent> {
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferPerSubscriber))
        let id = subscribers.withLock { state in
            state.next += 1
            state.continuations[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    public var subscriberCount: Int { subscribers.withLock { $0.continuations.count } }

    /// Ends every stream (server shutdown), so SSE responses complete.
    public func finishAll() {
        let continuations = subscribers.withLock { state in
            defer { state.continuations.removeAll() }
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }
}
