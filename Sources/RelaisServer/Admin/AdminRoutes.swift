import Foundation
import Hummingbird
import Logging
import NIOCore
import RelaisAdmin
import RelaisAuth
import RelaisHistory

/// The operators' HTTP API (`AdminAPI/ADMIN.md`): live sessions, actions, the event stream, the
/// history and audit trail, media loop statistics and Prometheus metrics.
///
/// Every route checks the operator token first: the admin API sees identities and can end a
/// stroke consultation, so nothing here answers without a token carrying the admin scope.
struct AdminRoutes: Sendable {
    let registry: RoomRegistry
    let media: MediaServer
    let tokens: TokenAuthority
    let observer: ServerObserver
    let logger: Logger

    static let defaultHistoryWindow: TimeInterval = 86_400
    static let maxLimit = 10_000
    static let keepaliveInterval: Duration = .seconds(15)

    func register(on router: Router<BasicRequestContext>) {
        router.get("/metrics") { request, _ in
            try await guarded(request) { _ in
                let sample = try await metricsSample()
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: observer.metrics.render(sample))))
            }
        }
        let admin = router.group("/v1/admin")
        admin.get("sessions") { request, _ in
            try await guarded(request) { _ in
                var sessions: [Session] = []
                for room in await registry.allRooms { sessions.append(await room.adminSession()) }
                return try json(SessionList(generatedAt: Date(), sessions: sessions))
            }
        }
        admin.get("sessions/{id}") { request, context in
            try await guarded(request) { _ in
                let id = context.parameters.get("id") ?? ""
                guard let room = await registry.room(matching: id) else { return notFound("no live consultation \(id)") }
                return try json(await room.adminSession())
            }
        }
        admin.delete("sessions/{id}") { request, context in
            try await guarded(request) { claims in
                let id = context.parameters.get("id") ?? ""
                guard let room = await registry.room(matching: id) else { return notFound("no live consultation \(id)") }
                let removed = await room.endByOperator(operator: claims.subject)
                return try json(ActionResult(ok: true, consultation: room.consultationID, room: room.name, removed: removed))
            }
        }
        admin.delete("participants/{id}") { request, context in
            try await guarded(request) { claims in
                let id = context.parameters.get("id") ?? ""
                guard let room = await registry.room(ofParticipant: id), await room.removeByOperator(id, operator: claims.subject) else {
                    return notFound("no participant \(id) in a live consultation")
                }
                return try json(ActionResult(ok: true, consultation: room.consultationID, room: room.name, removed: [id]))
            }
        }
        admin.get("events") { request, _ in
            try await guarded(request) { _ in
                let only = request.uri.queryParameters.get("consultation")
                let events = observer.events.subscribe()
                var headers = HTTPFields()
                headers[.contentType] = "text/event-stream"
                headers[.cacheControl] = "no-cache"
                return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                    // Events and a keepalive comment every 15 s, merged: the keepalive also finds
                    // operators who went away without a word, so their stream is released.
                    let (lines, feed) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(SessionEventHub.bufferPerSubscriber))
                    let forward = Task {
                        let encoder = JSONEncoder.admin
                        for await event in events {
                            if let only, event.consultation != only, event.room != only { continue }
                            guard let data = try? encoder.encode(event) else { continue }
                            feed.yield("event: \(event.type.rawValue)\ndata: \(String(decoding: data, as: UTF8.self))\n\n")
                        }
                        feed.finish()
                    }
                    let keepalive = Task {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: Self.keepaliveInterval)
                            feed.yield(": keepalive\n\n")
                        }
                    }
                    defer {
                        forward.cancel()
                        keepalive.cancel()
                    }
                    // A comment line first, so the client sees the stream open before any event.
                    try await writer.write(ByteBuffer(string: ": relais session events\n\n"))
                    for await line in lines { try await writer.write(ByteBuffer(string: line)) }
                    try await writer.finish(nil)
                })
            }
        }
        admin.get("history") { request, _ in
            try await guarded(request) { _ in
                guard let history = observer.history else { return historyDisabled() }
                let query = try AdminQuery(request, defaultLimit: 200)
                let records = try await history.read { try $0.consultations(since: query.since, room: query.room, limit: query.limit) }
                return try json(HistoryList(since: query.since, consultations: records.map(PastConsultation.init)))
            }
        }
        admin.get("audit") { request, _ in
            try await guarded(request) { _ in
                guard let history = observer.history else { return historyDisabled() }
                let query = try AdminQuery(request, defaultLimit: 1000)
                let (commands, errors) = try await history.read { store in
                    (try store.cameraCommands(room: query.room, since: query.since, limit: query.limit),
                     try store.errors(room: query.room, since: query.since, limit: query.limit))
                }
                let entries = (commands.map(AuditEntry.init) + errors.map(AuditEntry.init)).sorted { $0.at < $1.at }
                return try json(AuditList(since: query.since, room: query.room, entries: Array(entries.prefix(query.limit))))
            }
        }
        admin.get("media") { request, _ in
            try await guarded(request) { _ in
                let reset = request.uri.queryParameters.get("resetLatency").map { $0 == "true" || $0 == "1" } ?? false
                let figures = try await media.loopFigures(resetLatency: reset)
                return try json(MediaLoopsBody(loops: figures.map { MediaLoopBody(counters: $0.counters, relay: $0.relay, socket: $0.socket) }))
            }
        }
    }

    // MARK: Authorization

    /// Runs `body` for a request bearing a valid operator token; 401/403 otherwise.
    private func guarded(_ request: Request, _ body: (OperatorClaims) async throws -> Response) async throws -> Response {
        let header = request.headers[.authorization] ?? ""
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces) : ""
        let claims: OperatorClaims
        do {
            claims = try await tokens.verifyOperator(token)
        } catch {
            observer.metrics.adminRequest(status: error.kind == .forbidden ? 403 : 401)
            logger.notice("admin request refused", metadata: ["path": "\(request.uri.path)", "reason": "\(error)"])
            var response = SignalingRoutes.problem(error.kind == .forbidden ? .forbidden : .unauthorized, code: error.kind.rawValue, error.message)
            if error.kind == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"relais-admin\"" }
            return response
        }
        do {
            let response = try await body(claims)
            observer.metrics.adminRequest(status: Int(response.status.code))
            return response
        } catch let error as AdminQuery.Invalid {
            observer.metrics.adminRequest(status: 400)
            return SignalingRoutes.problem(.badRequest, code: "bad_request", error.message)
        } catch {
            observer.metrics.adminRequest(status: 500)
            logger.error("admin request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            return SignalingRoutes.problem(.internalServerError, code: "internal", "the request failed: \(error)")
        }
    }

    // MARK: Helpers

    private func metricsSample() async throws -> ServerMetrics.Sample {
        let rooms = await registry.allRooms
        var participants = 0
        var lost = 0
        for room in rooms {
            participants += await room.participantIDs.count
            let statistics = try await media.roomStatistics(loop: room.loop, room: room.mediaKey)
            lost += statistics.transports.values.reduce(0) { $0 + $1.published.reduce(0) { $0 + max($1.packetsLost, 0) } }
        }
        let figures = try await media.loopFigures(resetLatency: false)
        return ServerMetrics.Sample(
            rooms: rooms.count, participants: participants, loops: figures.map(\.counters),
            transports: figures.reduce(0) { $0 + $1.transports }, inboundPacketsLost: lost, relay: figures.map(\.relay))
    }

    private func json(_ value: some Encodable) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder.admin.encode(value))))
    }

    private func notFound(_ message: String) -> Response {
        SignalingRoutes.problem(.notFound, code: "not_found", message)
    }

    private func historyDisabled() -> Response {
        SignalingRoutes.problem(.serviceUnavailable, code: "history_disabled", "this server keeps no history (--history-path none)")
    }
}

/// `since`, `room` and `limit` of the history and audit routes.
struct AdminQuery {
    struct Invalid: Error {
        var message: String
    }

    var since: Date
    var room: String?
    var limit: Int

    init(_ request: Request, defaultLimit: Int) throws {
        let parameters = request.uri.queryParameters
        if let text = parameters.get("since") {
            guard let date = AdminTime.parse(text) else { throw Invalid(message: "since must be an ISO 8601 time, e.g. 2026-11-25T14:00:00Z") }
            since = date
        } else {
            since = Date().addingTimeInterval(-AdminRoutes.defaultHistoryWindow)
        }
        room = parameters.get("room").flatMap { $0.isEmpty ? nil : $0 }
        if let text = parameters.get("limit") {
            guard let value = Int(text), value > 0 else { throw Invalid(message: "limit must be a positive integer") }
            limit = min(value, AdminRoutes.maxLimit)
        } else {
            limit = defaultLimit
        }
    }
}

/// `GET /v1/admin/media`.
struct MediaLoopsBody: Codable {
    var loops: [MediaLoopBody]
}

/// One media loop: its traffic counters and the relay-latency histogram's window.
struct MediaLoopBody: Codable {
    var loop: Int
    var datagramsIn, datagramsOut, bytesIn, bytesOut, forwarded, unrouted: Int
    var retransmissions, retransmissionMisses, nacksToPublishers, keyframeRequests: Int
    /// Transport-wide congestion feedback compounds (TWCC) sent to publishers.
    var transportFeedbackToPublishers: Int
    /// REMB compounds (the configured ceiling) sent to publishers.
    var rembToPublishers: Int
    /// Every media-path drop by named reason, the same names and counts as
    /// `relais_media_drops_total{reason}` in /metrics (ADMIN.md lists them).
    var drops: [String: Int]
    /// Some of the same, under their earlier field names.
    var nackRepeats, nackOverBudget, rtpDuplicates, rtpTooOld, unwritableDrops, ssrcLimitDrops, addressMovesRefused: Int
    var transportsOpened, transportsClosed, consentExpiries, dtlsFailures, srtpFailures: Int
    var latencySamples: Int
    var latencyMicrosecondsP50, latencyMicrosecondsP90, latencyMicrosecondsP99, latencyMicrosecondsMax: Double?
    /// The socket's buffers as the kernel sized them (`getsockopt`: twice what was granted).
    var receiveBufferBytes, sendBufferBytes: Int

    init(counters c: MediaLoopCounters, relay: RelayStatistics, socket: SocketBufferSizes) {
        receiveBufferBytes = socket.receiveBytes
        sendBufferBytes = socket.sendBytes
        loop = relay.loop
        latencySamples = relay.latencySamples
        latencyMicrosecondsP50 = relay.latencyMicrosecondsP50
        latencyMicrosecondsP90 = relay.latencyMicrosecondsP90
        latencyMicrosecondsP99 = relay.latencyMicrosecondsP99
        latencyMicrosecondsMax = relay.latencyMicrosecondsMax
        datagramsIn = c.datagramsIn
        datagramsOut = c.datagramsOut
        bytesIn = c.bytesIn
        bytesOut = c.bytesOut
        forwarded = c.forwarded
        unrouted = c.unrouted
        retransmissions = c.retransmissions
        retransmissionMisses = c.retransmissionMisses
        nacksToPublishers = c.nacksToPublishers
        keyframeRequests = c.keyframeRequests
        transportFeedbackToPublishers = c.transportFeedbackToPublishers
        rembToPublishers = c.rembToPublishers
        drops = Dictionary(c.namedDrops.map { ($0.reason, $0.count) }, uniquingKeysWith: +)
        nackRepeats = c.nackRepeats
        nackOverBudget = c.nackOverBudget
        rtpDuplicates = c.rtpDuplicates
        rtpTooOld = c.rtpTooOld
        unwritableDrops = c.unwritableDrops
        ssrcLimitDrops = c.drops[.ssrcLimit] ?? 0
        addressMovesRefused = c.addressMovesRefused
        transportsOpened = c.transportsOpened
        transportsClosed = c.transportsClosed
        consentExpiries = c.consentExpiries
        dtlsFailures = c.dtlsFailures
        srtpFailures = c.srtpFailures
    }
}

extension PastConsultation {
    init(_ record: ConsultationRecord) {
        self.init(
            id: record.id, room: record.room, startedAt: record.startedAt, endedAt: record.endedAt, endReason: record.endReason,
            participants: record.participants.map {
                PastParticipant(participant: $0.participant, subject: $0.subject, name: $0.name, role: $0.role,
                                joinedAt: $0.joinedAt, leftAt: $0.leftAt, leaveReason: $0.leaveReason)
            })
    }
}

extension AuditEntry {
    init(_ command: CameraCommandRecord) {
        self.init(kind: .cameraCommand, at: command.at, room: command.room, consultation: command.consultation, participant: command.participant,
                  action: command.command, result: command.result, camera: command.camera, detail: command.detail)
    }

    init(_ error: ErrorRecord) {
        self.init(kind: .error, at: error.at, room: error.room, consultation: error.consultation, participant: error.participant,
                  action: error.code, result: "", camera: nil, detail: error.message)
    }
}
