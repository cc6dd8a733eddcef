public import RelaisCamera
public import RelaisNegotiation
import RelaisSignaling
import Synchronization

/// Signaling limits and timers, with the defaults the protocol documents (Signaling/PROTOCOL.md).
public struct SignalingConfiguration: Sendable {
    /// HS256 secret shared with the platform that issues tokens (at least 32 bytes). When nil the
    /// server generates a development secret at start and prints it once.
    public var tokenSecret: String?
    public var maxMessageBytes = 65_536
    public var messagesPerSecond = 20
    public var messageBurst = 40
    public var maxParticipants = 16
    /// How long a participant whose WebSocket dropped keeps its place.
    public var resumeWindow: Duration = .seconds(15)
    /// A connection silent this long is treated as dropped.
    public var idleTimeout: Duration = .seconds(30)
    /// Who gets a camera's control floor: the first expert to ask, or whom the cart grants it to.
    public var cameraFloorPolicy: CameraControl.FloorPolicy = .firstExpert
    /// A continuous camera move not refreshed within this is stopped by the relay.
    public var cameraDeadman: Duration = .milliseconds(500)
    /// Per-publisher caps on publish offers (m-sections, tracks, SSRCs); beyond them an offer is
    /// refused with `invalid_sdp`. Defaults: 16 m-sections, 8 tracks, 16 SSRCs.
    public var negotiationLimits = RoomNegotiation.Limits.default

    public init() {}
}

/// Where server messages for one connection go: an ordered queue the connection's writer drains.
/// Rooms hold it while the participant is attached; its identity tells a stale connection apart.
final class Outbox: Sendable {
    enum Item: Sendable {
        case message(ServerMessage)
        /// Close the WebSocket with this code after what is queued.
        case close(code: UInt16)
    }

    let id = ObjectIdentifierSource.next()
    private let continuation: AsyncStream<Item>.Continuation
    /// Set once the connection's writer has sent its close (or the connection ended); shutdown
    /// waits for it so the close frame leaves before the HTTP server stops.
    private let closed = Mutex<(done: Bool, waiters: [Int: CheckedContinuation<Void, Never>], next: Int)>((false, [:], 0))

    /// Where errors sent on this connection are counted and audited; nil in unit tests.
    private let observer: ServerObserver?
    /// The consultation and participant once joined, to attribute errors.
    private let attachment = Mutex<(scope: ServerObserver.Scope, participant: String)?>(nil)

    init(_ continuation: AsyncStream<Item>.Continuation, observer: ServerObserver? = nil) {
        self.continuation = continuation
        self.observer = observer
    }

    func attach(scope: ServerObserver.Scope, participant: String) {
        attachment.withLock { $0 = (scope, participant) }
    }

    func send(_ message: ServerMessage) {
        continuation.yield(.message(message))
    }

    func close(code: UInt16) {
        continuation.yield(.close(code: code))
        continuation.finish()
    }

    func markClosed() {
        let waiters = closed.withLock { state in
            state.done = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the connection has closed, or when the calling task is cancelled.
    func waitUntilClosed() async {
        let ticket = closed.withLock { state in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = closed.withLock { state in
                    if state.done || Task.isCancelled { return true }
                    state.waiters[ticket] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            closed.withLock { $0.waiters.removeValue(forKey: ticket) }?.resume()
        }
    }

    func fail(_ error: SignalingError, requestId: String?) {
        let attached = attachment.withLock { $0 }
        observer?.signalingError(attached?.scope, participant: attached?.participant, code: error.code.rawValue, message: error.message)
        send(.error(ErrorBody(requestId: requestId, error: error)))
        if error.code.isFatal { close(code: error.code.closeCode) }
    }
}

/// Unique ids for connections (log correlation and identity checks).
enum ObjectIdentifierSource {
    private static let counter = Atomic<Int>(0)
    static func next() -> Int { counter.add(1, ordering: .relaxed).newValue }
}
