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
    /// Bits per second a publisher may send: the relay answers `goog-remb` to publishers that offer
    /// it and sends them this ceiling in a REMB once a second (a browser's congestion controller
    /// takes it as an upper bound). Nil: no ceiling, no REMB.
    public var maxPublishBitrate: UInt64?

    // MARK: Abuse limits

    /// A WebSocket that has not sent `join` or `resume` within this is closed (1008,
    /// `join_timeout`): a real client sends it right after the socket opens.
    public var joinDeadline: Duration = .seconds(10)
    /// Concurrent WebSockets from one source address. A hospital reaches the relay through one
    /// NAT address for all its carts, expert workstations and screens (a large site runs tens of
    /// consultations at once, and a resume briefly holds two sockets), so the cap is generous; it
    /// stops one host from taking the whole `maxConnections`.
    public var maxConnectionsPerAddress = 256
    /// Concurrent WebSockets in total, joined or not (each costs a channel, buffers and tasks).
    public var maxConnections = 10_000
    /// Bytes of server messages queued for one connection and not yet written to its socket.
    /// A reader that lets more pile up is closed (1008, `slow_reader`) rather than growing the
    /// relay's memory; the participant is detached and may resume. A healthy client is never
    /// near it: the largest message (a subscribe offer) is a few KiB.
    public var maxOutboxBytes = 256 * 1024
    /// Concurrent echo tests (`POST /v1/echo`); each is a transport echoing media.
    public var maxEchoSessions = 8

    public init() {}
}

/// Where server messages for one connection go: an ordered queue the connection's writer drains.
/// Rooms hold it while the participant is attached; its identity tells a stale connection apart.
///
/// The queue is bounded in bytes (`limit`): a client that stops reading (or reads slower than the
/// room talks to it) makes the WebSocket writer wait on the socket, and what rooms send meanwhile
/// would otherwise pile up here without end. Past the limit the connection is closed as a slow
/// reader: what is still queued is dropped, the close goes next, and the connection is torn down
/// after a grace even if the close frame cannot leave.
final class Outbox: Sendable {
    enum Item: Sendable {
        /// An encoded message and its size, which the writer gives back once written.
        case text(String, bytes: Int)
        /// Close the WebSocket with this code and reason after what is queued.
        case close(code: UInt16, reason: String?)
    }

    /// The close a slow reader gets (RFC 6455 §7.4.1: 1008, policy violation).
    static let slowReaderClose: (code: UInt16, reason: String) = (1008, "slow_reader: messages were not read fast enough")

    let id = ObjectIdentifierSource.next()
    private let continuation: AsyncStream<Item>.Continuation
    let limit: Int
    /// Bytes queued and not yet written, and whether the limit was passed.
    private let queue = Mutex<(bytes: Int, overflowed: Bool)>((0, false))
    /// Fired when a close is requested (the connection's reaper starts its grace then).
    let closing = Latch()
    /// Fired once the connection's writer has sent its close (or the connection ended); shutdown
    /// waits for it so the close frame leaves before the HTTP server stops.
    private let closed = Latch()

    /// Where errors sent on this connection are counted and audited; nil in unit tests.
    private let observer: ServerObserver?
    /// The consultation and participant once joined, to attribute errors.
    private let attachment = Mutex<(scope: ServerObserver.Scope, participant: String)?>(nil)

    init(_ continuation: AsyncStream<Item>.Continuation, limit: Int = SignalingConfiguration().maxOutboxBytes, observer: ServerObserver? = nil) {
        self.continuation = continuation
        self.limit = limit
        self.observer = observer
    }

    func attach(scope: ServerObserver.Scope, participant: String) {
        attachment.withLock { $0 = (scope, participant) }
    }

    var isAttached: Bool { attachment.withLock { $0 != nil } }

    func send(_ message: ServerMessage) {
        let text = message.encoded()
        let size = text.utf8.count
        // One message always fits an empty queue, so a large offer never counts as slow reading.
        let admitted = queue.withLock { queue -> Bool? in
            if queue.overflowed { return nil }
            if queue.bytes > 0, queue.bytes + size > limit {
                queue.overflowed = true
                return false
            }
            queue.bytes += size
            return true
        }
        switch admitted {
        case true?:
            continuation.yield(.text(text, bytes: size))
        case false?:
            observer?.metrics.slowReaderClosed()
            close(code: Self.slowReaderClose.code, reason: Self.slowReaderClose.reason)
        case nil:
            return  // already closing as a slow reader
        }
    }

    /// The writer wrote `bytes` of a queued message to the socket.
    func written(_ bytes: Int) {
        queue.withLock { $0.bytes = max($0.bytes - bytes, 0) }
    }

    /// True once the queue passed its limit; the writer then skips to the close.
    var isOverflowed: Bool { queue.withLock { $0.overflowed } }

    /// Bytes queued and not yet written.
    var queuedBytes: Int { queue.withLock { $0.bytes } }

    func close(code: UInt16, reason: String? = nil) {
        continuation.yield(.close(code: code, reason: reason))
        continuation.finish()
        closing.fire()
    }

    func markClosed() {
        closed.fire()
    }

    /// Returns when the connection has closed, or when the calling task is cancelled.
    func waitUntilClosed() async {
        await closed.wait()
    }

    func fail(_ error: SignalingError, requestId: String?) {
        let attached = attachment.withLock { $0 }
        observer?.signalingError(attached?.scope, participant: attached?.participant, code: error.code.rawValue, message: error.message)
        send(.error(ErrorBody(requestId: requestId, error: error)))
        if error.code.isFatal { close(code: error.code.closeCode) }
    }
}

/// A one-shot signal: `wait` returns once `fire` was called (before or after), or when the
/// waiting task is cancelled.
final class Latch: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [Int: CheckedContinuation<Void, Never>], next: Int)>((false, [:], 0))

    var isFired: Bool { state.withLock { $0.fired } }

    func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        let ticket = state.withLock { state in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.fired || Task.isCancelled { return true }
                    state.waiters[ticket] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: ticket) }?.resume()
        }
    }
}

/// Unique ids for connections (log correlation and identity checks).
enum ObjectIdentifierSource {
    private static let counter = Atomic<Int>(0)
    static func next() -> Int { counter.add(1, ordering: .relaxed).newValue }
}
