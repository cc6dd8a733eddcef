import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import RelaisAuth
import RelaisSignaling
import Synchronization

/// The signaling services every connection shares.
struct SignalingContext: Sendable {
    let registry: RoomRegistry
    let tokens: TokenAuthority
    let configuration: SignalingConfiguration
    let observer: ServerObserver
    let logger: Logger
    /// The per-address and total caps on open WebSockets.
    let admission: ConnectionAdmission

    init(registry: RoomRegistry, tokens: TokenAuthority, configuration: SignalingConfiguration, observer: ServerObserver, logger: Logger) {
        self.registry = registry
        self.tokens = tokens
        self.configuration = configuration
        self.observer = observer
        self.logger = logger
        let metrics = observer.metrics
        self.admission = ConnectionAdmission(
            perAddress: configuration.maxConnectionsPerAddress, total: configuration.maxConnections,
            changed: { metrics.signalingConnections($0) })
    }
}

/// One WebSocket: enforces the frame size and message rate, parses messages, and hands them to
/// the participant's room. Everything the server sends goes through the connection's `Outbox`,
/// so replies, events and errors keep one order.
struct SignalingConnection {
    let context: SignalingContext

    /// The largest frame the WebSocket layer accepts; above the protocol limit so that an oversize
    /// message still gets its `message_too_large` error before the close.
    static let transportFrameLimit = 1 << 20

    /// How long a connection may take to finish closing once its close is requested (the close
    /// handshake is one round trip, RFC 6455 §7.1.2) before its socket is closed under it: a peer
    /// that never reads, or never answers the close, must not hold its slot and memory.
    static let closeGrace: Duration = .seconds(2)

    /// The close a connection refused by a cap gets (1013, Try Again Later: IANA WebSocket close
    /// code registry, RFC 6455 §11.7), with a reason naming the cap.
    static func refusalClose(_ limit: ConnectionAdmission.Limit) -> (code: Int, reason: String) {
        switch limit {
        case .perAddress: (1013, "too_many_connections: too many connections from this address")
        case .total: (1013, "too_many_connections: the relay is at its connection limit")
        }
    }

    /// The close of a connection that sent no `join` or `resume` in time (1008, policy violation).
    static let joinTimeoutClose: (code: UInt16, reason: String) = (1008, "join_timeout: no join or resume in time")

    /// Tears down a connection whose close did not finish within its grace, abortively: with
    /// SO_LINGER 0 the kernel resets it at once and frees what it still held for the peer (a whole
    /// send buffer, megabytes, for a reader that stopped). A plain close would leave an orphaned
    /// socket probing the peer's zero window for up to a minute, its buffer still allocated, and
    /// the peer might never learn that the connection ended.
    static func abort(_ channel: (any Channel)?) {
        guard let channel else { return }
        guard let options = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Admits the connection under the caps, runs it, and frees its slot when it ends.
    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, peer: SocketAddress?, channel: (any Channel)?) async {
        let address = peer?.ipAddress ?? "unknown"
        switch context.admission.admit(address) {
        case .failure(let limit):
            // Debug only: a flood of refusals must not become a flood of log lines; the metric counts them.
            context.observer.metrics.signalingConnectionRefused(limit: limit.rawValue)
            context.logger.debug("signaling connection refused", metadata: ["address": "\(address)", "limit": "\(limit.rawValue)"])
            let close = Self.refusalClose(limit)
            try? await outbound.close(WebSocketErrorCode(codeNumber: close.code), reason: close.reason)
            // Wait briefly for the peer's close, discarding whatever it sends, then drop the socket.
            let reaper = Task {
                try? await Task.sleep(for: Self.closeGrace)
                if !Task.isCancelled { Self.abort(channel) }
            }
            do {
                for try await _ in inbound.messages(maxSize: Self.transportFrameLimit) {}
            } catch {}
            reaper.cancel()
        case .success(let ticket):
            defer { ticket.release() }
            await run(inbound: inbound, outbound: outbound, channel: channel)
        }
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: (any Channel)? = nil) async {
        let (stream, continuation) = AsyncStream<Outbox.Item>.makeStream()
        let outbox = Outbox(continuation, limit: context.configuration.maxOutboxBytes, observer: context.observer)
        var logger = context.logger
        logger[metadataKey: "connection"] = "\(outbox.id)"
        let lastActivity = ActivityClock()
        let state = ConnectionState()

        // Writer: drains the outbox in order; a close item ends the connection. It outlives the
        // reader so that a final error and its close frame still go out.
        let writer = Task {
            for await item in stream {
                switch item {
                case .text(let text, let bytes):
                    // A slow reader: what is still queued is dropped and its close goes next.
                    if outbox.isOverflowed { continue }
                    try? await outbound.write(.text(text))
                    outbox.written(bytes)
                case .close(let code, let reason):
                    try? await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason)
                    outbox.markClosed()
                    return
                }
            }
            outbox.markClosed()
        }
        // Reaper: once a close is requested, the connection has `closeGrace` to end on its own
        // (the peer answers the close, the writer gets its frames out); then its socket is closed,
        // which ends the reader and fails a write stuck on a peer that stopped reading.
        let reaper = Task {
            await outbox.closing.wait()
            try? await Task.sleep(for: Self.closeGrace)
            guard !Task.isCancelled else { return }
            logger.info("signaling connection did not finish closing; resetting it", metadata: ["queued_bytes": "\(outbox.queuedBytes)"])
            Self.abort(channel)
        }
        // Join deadline: a connection that has not joined or resumed in time is closed.
        let joinDeadline = context.configuration.joinDeadline
        let joinWatch = Task { [observer = context.observer] in
            try? await Task.sleep(for: joinDeadline)
            guard !Task.isCancelled, !outbox.isAttached, !outbox.closing.isFired else { return }
            observer.metrics.joinTimeout()
            logger.debug("no join or resume in time; closing")
            outbox.close(code: Self.joinTimeoutClose.code, reason: Self.joinTimeoutClose.reason)
        }
        // Idle watchdog: a silent connection is treated as dropped (the participant may resume).
        let idle = context.configuration.idleTimeout
        let watchdog = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let silent = DispatchTime.now().uptimeNanoseconds - lastActivity.last.load(ordering: .relaxed)
                if silent > idle.nanosecondsClamped {
                    logger.info("signaling connection idle; closing")
                    outbox.close(code: 1001)
                    return
                }
            }
        }
        do {
            for try await frame in inbound.messages(maxSize: Self.transportFrameLimit) {
                lastActivity.last.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
                // Once a close is requested nothing more is acted on (a `join` after its deadline).
                if outbox.closing.isFired { continue }
                let open = await handle(frame, outbox: outbox, state: state, logger: logger)
                if !open { break }
            }
        } catch {
            logger.debug("signaling connection ended", metadata: ["error": "\(error)"])
        }
        watchdog.cancel()
        joinWatch.cancel()
        // The socket is gone or closing: a joined participant keeps its place for the resume window.
        if let joined = state.joined, !state.left {
            await joined.room.detach(participantId: joined.participantId, outbox: outbox)
        }
        continuation.finish()
        // A writer stuck on a peer that stopped reading gets the reaper's grace, then the socket closes.
        outbox.closing.fire()
        await writer.value
        reaper.cancel()
    }

    /// When the client last sent anything, shared with the idle watchdog.
    final class ActivityClock: Sendable {
        let last = Atomic<UInt64>(DispatchTime.now().uptimeNanoseconds)
    }

    final class ConnectionState: @unchecked Sendable {
        // Only touched by the connection's reading task.
        var joined: (room: Room, participantId: String, role: Role)?
        var left = false
        var limiter: MessageRateLimiter?
    }

    /// Returns false when the connection must end.
    private func handle(_ frame: WebSocketMessage, outbox: Outbox, state: ConnectionState, logger: Logger) async -> Bool {
        let configuration = context.configuration
        let data: Data
        switch frame {
        case .text(let text): data = Data(text.utf8)
        case .binary(var buffer): data = Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        }
        guard data.count <= configuration.maxMessageBytes else {
            outbox.fail(SignalingError(.messageTooLarge, "messages are limited to \(configuration.maxMessageBytes) bytes"), requestId: nil)
            return false
        }
        if state.limiter == nil { state.limiter = MessageRateLimiter(rate: configuration.messagesPerSecond, burst: configuration.messageBurst) }
        switch state.limiter!.admit(now: Double(DispatchTime.now().uptimeNanoseconds) / 1e9) {
        case .allow: break
        case .refuse:
            outbox.fail(SignalingError(.rateLimited, "over \(configuration.messagesPerSecond) messages per second; message discarded"), requestId: nil)
            return true
        case .refuseQuietly:
            return true
        }
        if case .binary = frame {
            outbox.fail(SignalingError(.invalidJSON, "messages are JSON text frames"), requestId: nil)
            return true
        }
        let message: ClientMessage
        do {
            message = try ClientMessage.decode(data)
        } catch {
            outbox.fail(error, requestId: ClientMessage.requestId(inUndecodable: data))
            return true
        }
        do {
            try await dispatch(message, outbox: outbox, state: state, logger: logger)
        } catch {
            if error.code == .internal { logger.error("signaling failure", metadata: ["error": "\(error.message)"]) }
            outbox.fail(error, requestId: message.requestId)
            if error.code.isFatal { return false }
        }
        return !state.left
    }

    private func dispatch(_ message: ClientMessage, outbox: Outbox, state: ConnectionState, logger: Logger) async throws(SignalingError) {
        switch message {
        case .ping(let body):
            outbox.send(.pong(RequestBody(requestId: body.requestId)))
        case .join(let join):
            guard state.joined == nil else { throw SignalingError(.alreadyJoined, "this connection already joined a room") }
            let claims = try await context.tokens.verify(join.token)
            guard claims.room == join.room else {
                throw SignalingError(.wrongRoom, "the token admits to room \"\(claims.room)\", not \"\(join.room)\"")
            }
            let room = try await context.registry.room(named: join.room)
            let joined = try await room.join(claims: claims, outbox: outbox, requestId: join.requestId)
            state.joined = (room, joined.participantId, claims.role)
            outbox.attach(scope: room.scope, participant: joined.participantId)
        case .resume(let resume):
            guard state.joined == nil else { throw SignalingError(.alreadyJoined, "this connection already joined a room") }
            guard let (room, participantId) = await context.registry.resumeTarget(token: resume.resumeToken) else {
                throw SignalingError(.resumeFailed, "unknown or expired resume token")
            }
            let role = try await room.resume(participantId: participantId, outbox: outbox, requestId: resume.requestId, restartIce: resume.restartIce ?? false)
            state.joined = (room, participantId, role)
            outbox.attach(scope: room.scope, participant: participantId)
        case .offer(let offer):
            guard let joined = state.joined else { throw SignalingError(.notJoined, "join a room first") }
            try await joined.room.publishOffer(participantId: joined.participantId, body: offer)
        case .answer(let answer):
            guard let joined = state.joined else { throw SignalingError(.notJoined, "join a room first") }
            try await joined.room.subscribeAnswer(participantId: joined.participantId, body: answer)
        case .candidate(let candidate):
            guard let joined = state.joined else { throw SignalingError(.notJoined, "join a room first") }
            if candidate.target == .publish, joined.role == .observer {
                throw SignalingError(.forbidden, "an observer has no publish connection")
            }
            // The relay is ICE-lite: it learns the peer's addresses from its connectivity checks
            // (peer-reflexive, RFC 8445 §7.3.1.3), so trickled candidates need no action.
        case .cameras, .floorRequest, .floorRelease, .floorGrant, .floorRevoke, .cameraCommand, .cameraAck:
            guard let joined = state.joined else { throw SignalingError(.notJoined, "join a room first") }
            try await joined.room.camera(message, from: joined.participantId)
        case .selectLayer(let select):
            guard let joined = state.joined else { throw SignalingError(.notJoined, "join a room first") }
            try await joined.room.selectLayer(participantId: joined.participantId, body: select)
        case .leave(let leave):
            guard let joined = state.joined else { throw SignalingError(.notJoined, "join a room first") }
            state.left = true
            await joined.room.leave(participantId: joined.participantId, outbox: outbox, requestId: leave.requestId)
        }
    }
}
