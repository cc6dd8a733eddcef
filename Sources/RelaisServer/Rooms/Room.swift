import Foundation
import Logging
import RelaisCamera
import RelaisAuth
import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// One participant as the room's signaling sees it.
final class ParticipantState {
    let id: String
    let info: Participant
    /// The token's subject: who this is at the hospital's identity service (audit, admin API).
    let subject: String
    let joinedAt = Date()
    var outbox: Outbox?
    var resumeToken: String
    /// Bumped on every detach/attach, so a stale resume-window timer does nothing.
    var attachment = 0

    // Publish connection (client offers).
    var publishTransport: TransportID?
    var publishLocal: ICECredentials?
    var publishRemote: PeerTransportParameters?
    var publishVersion = 0
    var published: [(section: PublishedSection, track: Track)] = []

    // Subscribe connection (relay offers).
    var subscribeTransport: TransportID?
    var subscribeLocal: ICECredentials?
    var subscribeRemoteUfrag: String?
    var slots: [RoomNegotiation.SubscribeSlot] = []
    var revision = 0
    var outstanding: (revision: Int, slots: [RoomNegotiation.SubscribeSlot], credentials: ICECredentials)?
    var renegotiationPending = false
    var iceRestartPending = false
    var candidatesSent: String?

    init(id: String, info: Participant, subject: String, resumeToken: String) {
        self.id = id
        self.info = info
        self.subject = subject
        self.resumeToken = resumeToken
    }
}

/// A consultation room's signaling: who is in it, what they publish, and the negotiation of every
/// participant's two peer connections. Media lives on one media loop (`loop`); the room reaches it
/// with a hop per signaling operation, never per packet.
actor Room {
    let name: String
    let loop: Int
    let media: MediaServer
    let configuration: SignalingConfiguration
    let registry: RoomRegistry
    let logger: Logger
    /// This consultation: the room from its first join until it empties (history, admin API).
    let consultationID = "c-" + randomToken(12)
    let startedAt = Date()
    let observer: ServerObserver
    /// Why the consultation ends when its last participant goes (history).
    var endReason = "empty"
    nonisolated var scope: ServerObserver.Scope { .init(consultation: consultationID, room: name) }
    /// The room's media state on its loop is keyed by consultation, not by name: a room that ended
    /// and a later room of the same name never share producers or an event sink.
    nonisolated var mediaKey: String { consultationID }
    var participants: [String: ParticipantState] = [:]
    /// Join order, for stable listings and m-line order.
    var order: [String] = []
    private let sessionID = UInt64.random(in: 1...UInt64(Int64.max))
    var closed = false
    /// The room's camera control rules (floors, validation, coalescing, deadman, audit).
    var camera: CameraControl
    var cameraTimer: Task<Void, Never>?
    var cameraTimerDeadline: Instant?

    init(name: String, loop: Int, media: MediaServer, configuration: SignalingConfiguration, registry: RoomRegistry, observer: ServerObserver, logger: Logger) {
        self.name = name
        self.observer = observer
        self.loop = loop
        self.media = media
        self.configuration = configuration
        self.registry = registry
        var logger = logger
        logger[metadataKey: "room"] = "\(name)"
        logger[metadataKey: "consultation"] = "\(consultationID)"
        self.logger = logger
        self.camera = CameraControl(configuration: .init(policy: configuration.cameraFloorPolicy, deadman: configuration.cameraDeadman))
    }

    var isEmpty: Bool { participants.isEmpty }

    /// Everyone but `id`, in join order.
    private func others(_ id: String) -> [ParticipantState] {
        order.filter { $0 != id }.compactMap { participants[$0] }
    }

    private func roster(excluding id: String) -> (participants: [Participant], tracks: [Track]) {
        let rest = others(id)
        return (rest.map(\.info), rest.flatMap { $0.published.map(\.track) })
    }

    private func broadcast(_ message: ServerMessage, except id: String?) {
        for p in participants.values where p.id != id { p.outbox?.send(message) }
    }

    // MARK: Join, resume, detach, leave

    func join(claims: AccessClaims, outbox: Outbox, requestId: String?) async throws(SignalingError) -> (participantId: String, resumeToken: String) {
        guard !closed else { throw SignalingError(.internal, "the room is closing") }
        guard participants.count < configuration.maxParticipants else {
            throw SignalingError(.roomFull, "room \(name) has its maximum of \(configuration.maxParticipants) participants")
        }
        let id = "p-" + randomToken(10)
        let info = Participant(participantId: id, displayName: claims.displayName, role: claims.role)
        let participant = ParticipantState(id: id, info: info, subject: claims.subject, resumeToken: randomToken(32))
        participant.outbox = outbox
        let existing = roster(excluding: id)
        participants[id] = participant
        order.append(id)
        await registry.rememberResume(token: participant.resumeToken, room: name, participant: id)
        outbox.send(.joined(Joined(
            requestId: requestId, participantId: id, room: name, role: claims.role, displayName: claims.displayName,
            resumeToken: participant.resumeToken, resumeWindowSeconds: configuration.resumeWindow.seconds,
            participants: existing.participants, tracks: existing.tracks,
            limits: SignalingLimits(maxMessageBytes: configuration.maxMessageBytes, messagesPerSecond: configuration.messagesPerSecond,
                                    maxParticipants: configuration.maxParticipants))))
        broadcast(.participantJoined(ParticipantJoined(participant: info)), except: id)
        observer.participantJoined(scope, participant: id, subject: claims.subject, name: claims.displayName, role: claims.role.rawValue, at: participant.joinedAt)
        await apply(camera.join(participantId: id, role: claims.role, subject: claims.subject))
        logger.info("participant joined", metadata: ["participant": "\(id)", "role": "\(claims.role.rawValue)", "subject": "\(claims.subject)"])
        await renegotiate(participant)
        return (id, participant.resumeToken)
    }

    /// Reattaches a participant whose connection dropped (within the resume window).
    func resume(participantId: String, outbox: Outbox, requestId: String?, restartIce: Bool) async throws(SignalingError) -> Role {
        guard let participant = participants[participantId] else {
            throw SignalingError(.resumeFailed, "the participant is no longer in the room")
        }
        if let previous = participant.outbox, previous.id != outbox.id {
            previous.send(.left(LeftBody(reason: .replaced)))
            previous.close(code: 1000)
            // As after a drop: the replaced connection's motion stops and its cameras go; the
            // resumed participant takes its camera place afresh below.
            await apply(camera.leave(participantId: participantId, now: .now))
        }
        participant.attachment += 1
        participant.outbox = outbox
        await registry.forgetResume(token: participant.resumeToken)
        participant.resumeToken = randomToken(32)
        await registry.rememberResume(token: participant.resumeToken, room: name, participant: participantId)
        let existing = roster(excluding: participantId)
        outbox.send(.resumed(Resumed(
            requestId: requestId, participantId: participantId, room: name, resumeToken: participant.resumeToken,
            participants: existing.participants, tracks: existing.tracks)))
        // `detach` took the participant out of camera control (its motion stopped, a cart's cameras
        // withdrawn); it comes back as a member, told every camera and floor, so an expert can
        // request a floor again and a cart can advertise its cameras again.
        await apply(camera.join(participantId: participantId, role: participant.info.role, subject: participant.subject))
        logger.info("participant resumed", metadata: ["participant": "\(participantId)"])
        observer.event(.participantResumed, scope, participant: participantId, detail: restartIce ? "ICE restart" : nil)
        // The client restarts ICE on its publish connection itself (re-offer); on request the relay
        // restarts the subscribe one. Either way the client gets a fresh subscribe offer to resync.
        participant.outstanding = nil
        if restartIce {
            participant.iceRestartPending = true
            participant.candidatesSent = nil
        }
        await renegotiate(participant, force: true)
        return participant.info.role
    }

    /// The participant's connection dropped without `leave`: keep its place for the resume window.
    func detach(participantId: String, outbox: Outbox) async {
        guard let participant = participants[participantId], participant.outbox?.id == outbox.id else { return }
        participant.outbox = nil
        participant.attachment += 1
        let attachment = participant.attachment
        let window = configuration.resumeWindow
        // A controller that lost its connection must not leave a camera moving next to a patient.
        await apply(camera.leave(participantId: participantId, now: .now))
        logger.info("participant detached; resume window open", metadata: ["participant": "\(participantId)"])
        observer.event(.participantDisconnected, scope, participant: participantId, detail: "resume window \(Int(window.seconds)) s")
        Task {
            try? await Task.sleep(for: window)
            await self.expireDetached(participantId: participantId, attachment: attachment)
        }
    }

    private func expireDetached(participantId: String, attachment: Int) async {
        guard let participant = participants[participantId], participant.outbox == nil, participant.attachment == attachment else { return }
        await remove(participant, reason: .disconnected)
    }

    func leave(participantId: String, outbox: Outbox, requestId: String?) async {
        guard let participant = participants[participantId], participant.outbox?.id == outbox.id else { return }
        outbox.send(.left(LeftBody(requestId: requestId, reason: .requested)))
        outbox.close(code: 1000)
        participant.outbox = nil
        await remove(participant, reason: .left)
    }

    /// - Parameter operator: the operator who removed the participant or ended the consultation.
    func remove(_ participant: ParticipantState, reason: ParticipantLeftReason, by operator: String? = nil) async {
        guard participants.removeValue(forKey: participant.id) != nil else { return }
        order.removeAll { $0 == participant.id }
        await registry.forgetResume(token: participant.resumeToken)
        await apply(camera.leave(participantId: participant.id, now: .now))
        let transports = [participant.publishTransport, participant.subscribeTransport].compactMap { $0 }
        if !transports.isEmpty {
            _ = try? await media.onLoop(loop) { loop in
                for id in transports { loop.removeTransport(id, reason: "participant \(reason.rawValue)") }
            }
        }
        for (_, track) in participant.published {
            broadcast(.trackUnpublished(TrackUnpublished(trackId: track.trackId, participantId: participant.id)), except: nil)
        }
        broadcast(.participantLeft(ParticipantLeft(participantId: participant.id, reason: reason)), except: nil)
        logger.info("participant left", metadata: ["participant": "\(participant.id)", "reason": "\(reason.rawValue)"])
        observer.participantLeft(scope, participant: participant.id, reason: reason.rawValue, by: `operator`, at: Date())
        if !participant.published.isEmpty {
            for other in participants.values { await renegotiate(other) }
        }
        if participants.isEmpty {
            // The room ended: its media state leaves the loop (its transports are already closed).
            let key = mediaKey
            _ = try? await media.onLoop(loop) { $0.removeRoom(key, reason: "consultation ended") }
            await registry.roomBecameEmpty(self)
        }
    }

    /// Server shutdown: everyone is told, transports are closed.
    func shutdown() async {
        closed = true
        // Moving cameras get the relay's stop while the carts' connections are still open.
        await apply(camera.stopAll(cause: .serverShutdown, now: .now))
        let outboxes = participants.values.compactMap(\.outbox)
        for participant in participants.values {
            participant.outbox?.send(.left(LeftBody(reason: .shutdown)))
            participant.outbox?.close(code: 1001)
            participant.outbox = nil
        }
        // Let the close frames leave before the HTTP server goes (bounded: a stuck peer can't hold us).
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskGroup(of: Void.self) { all in
                    for outbox in outboxes { all.addTask { await outbox.waitUntilClosed() } }
                }
            }
            group.addTask { try? await Task.sleep(for: .seconds(2)) }
            await group.next()
            group.cancelAll()
        }
        let transports = participants.values.flatMap { [$0.publishTransport, $0.subscribeTransport].compactMap { $0 } }
        let key = mediaKey
        _ = try? await media.onLoop(loop) { loop in
            for id in transports { loop.removeTransport(id, reason: "server shutting down") }
            loop.removeRoom(key, reason: "server shutting down")
        }
        let now = Date()
        for id in order { observer.participantLeft(scope, participant: id, reason: ParticipantLeftReason.shutdown.rawValue, at: now) }
        observer.consultationEnded(scope, reason: "shutdown", at: now)
        participants.removeAll()
        order.removeAll()
    }

    // MARK: Publishing

    func publishOffer(participantId: String, body: SessionDescriptionBody) async throws(SignalingError) {
        guard let participant = participants[participantId], let outbox = participant.outbox else { return }
        guard participant.info.role.mayPublish else {
            throw SignalingError(.forbidden, "an \(participant.info.role.rawValue) does not publish")
        }
        // The whole offer is validated before anything changes: a refused offer leaves the room as it was.
        let negotiation = try RoomNegotiation.negotiatePublishOffer(body.sdp, limits: configuration.negotiationLimits)
        let remote = negotiation.remote
        let sections = negotiation.sections
        let midExtension = negotiation.midExtensionID
        let trackSections = sections.map { (trackID: "\(participantId)-\($0.mid)", section: $0) }

        // Open the transport, restart ICE, or replace it when the DTLS identity changed.
        var newCredentials = false
        let roomName = mediaKey
        let events = mediaEvents()
        if let transport = participant.publishTransport, let previous = participant.publishRemote, previous.fingerprint == remote.fingerprint {
            if previous.ufrag != remote.ufrag {
                let local = ICECredentials.random()
                participant.publishLocal = local
                newCredentials = true
                _ = try? await media.onLoop(loop) { $0.restartICE(transport, local: local, remoteUfrag: remote.ufrag) }
            }
        } else {
            if let old = participant.publishTransport {
                _ = try? await media.onLoop(loop) { $0.removeTransport(old, reason: "publisher renegotiated a new DTLS identity") }
            }
            let opened: (TransportID, ICECredentials)
            do {
                opened = try await media.onLoop(loop) { loop in
                    let room = loop.room(named: roomName, events: events)
                    let session = PublisherSession(room: room)
                    let (id, credentials) = try loop.addTransport(remoteUfrag: remote.ufrag, remoteFingerprint: remote.fingerprint, purpose: .publisher(session))
                    return (id, credentials)
                }
            } catch {
                throw SignalingError(.internal, "could not open a media transport")
            }
            participant.publishTransport = opened.0
            participant.publishLocal = opened.1
            newCredentials = true
        }
        participant.publishRemote = remote
        guard let transport = participant.publishTransport, let local = participant.publishLocal,
              let address = media.localAddresses[safe: loop] else { throw SignalingError(.internal, "media unavailable") }
        let sendable = trackSections
        _ = try? await media.onLoop(loop) { loop in
            guard let room = loop.rooms[roomName], let session = room.publishers[transport] else { return }
            room.setPublishedTracks(session, sendable, midExtensionID: midExtension)
        }

        participant.publishVersion += 1
        let localParameters = LocalTransportParameters(credentials: local, fingerprint: media.certificate.fingerprintSHA256, address: address)
        let answer = RoomNegotiation.publishAnswer(negotiation, local: localParameters, sessionID: sessionID, version: participant.publishVersion)
        outbox.send(.answer(SessionDescriptionBody(requestId: body.requestId, target: .publish, sdp: answer)))
        if newCredentials { sendCandidates(outbox, target: .publish, local: localParameters, mid: sections.first?.mid) }

        // Announce what changed.
        let before = Set(participant.published.map(\.track.trackId))
        let now = trackSections.map { entry in
            (section: entry.section,
             track: Track(trackId: entry.trackID, participantId: participantId, kind: entry.section.kind, codec: entry.section.codec.name))
        }
        let after = Set(now.map(\.track.trackId))
        for (_, track) in participant.published where !after.contains(track.trackId) {
            broadcast(.trackUnpublished(TrackUnpublished(trackId: track.trackId, participantId: participantId)), except: nil)
        }
        participant.published = now
        for (_, track) in now where !before.contains(track.trackId) {
            broadcast(.trackPublished(TrackPublished(track: track)), except: participantId)
        }
        if before != after {
            for other in participants.values where other.id != participantId { await renegotiate(other) }
        }
    }

    private func sendCandidates(_ outbox: Outbox, target: PeerConnectionTarget, local: LocalTransportParameters, mid: String?) {
        let candidate = RoomNegotiation.candidate(local)
        outbox.send(.candidate(CandidateBody(target: target, candidate: CandidateInit(candidate: candidate.sdpValue, sdpMid: mid, sdpMLineIndex: 0, usernameFragment: local.credentials.ufrag))))
        outbox.send(.candidate(CandidateBody(target: target, candidate: nil)))
    }

    // MARK: Subscribing

    /// Brings a participant's subscribe connection up to date with the room's tracks: sends a new
    /// offer when something changed (one outstanding offer at a time).
    private func renegotiate(_ participant: ParticipantState, force: Bool = false) async {
        guard let outbox = participant.outbox else { return }
        if participant.outstanding != nil {
            participant.renegotiationPending = true
            return
        }
        var slots = participant.slots
        let tracks = others(participant.id).flatMap { p in p.published.map { (p, $0.section, $0.track) } }
        let wanted = Set(tracks.map(\.2.trackId))
        for i in slots.indices where slots[i].track.map({ !wanted.contains($0.trackId) }) ?? false {
            slots[i].track = nil
        }
        for (publisher, section, track) in tracks where !slots.contains(where: { $0.track?.trackId == track.trackId }) {
            var slot = RoomNegotiation.SubscribeSlot(
                mid: "", kind: track.kind, track: track, codec: section.codec,
                ssrc: UInt32.random(in: 1...UInt32.max), stream: publisher.id, publisherExtensions: section.extensions)
            if let free = slots.firstIndex(where: { $0.track == nil && $0.kind == track.kind }) {
                slot.mid = slots[free].mid
                slots[free] = slot
            } else {
                var fresh = slot
                fresh.mid = String(slots.count)
                slots.append(fresh)
            }
        }
        guard !slots.isEmpty, force || slots != participant.slots || participant.subscribeLocal == nil else { return }
        guard slots.contains(where: { $0.track != nil }) || participant.subscribeTransport != nil else { return }
        guard let address = media.localAddresses[safe: loop] else { return }
        var credentials = participant.subscribeLocal ?? ICECredentials.random()
        if participant.iceRestartPending { credentials = .random() }
        let newCredentials = credentials.ufrag != participant.subscribeLocal?.ufrag
        participant.revision += 1
        participant.slots = slots
        participant.outstanding = (participant.revision, slots, credentials)
        participant.renegotiationPending = false
        let local = LocalTransportParameters(credentials: credentials, fingerprint: media.certificate.fingerprintSHA256, address: address)
        let sdp = RoomNegotiation.subscribeOffer(slots: slots, local: local, sessionID: sessionID, version: participant.revision)
        outbox.send(.offer(SessionDescriptionBody(target: .subscribe, revision: participant.revision, sdp: sdp)))
        if newCredentials || participant.candidatesSent != credentials.ufrag {
            participant.candidatesSent = credentials.ufrag
            sendCandidates(outbox, target: .subscribe, local: local, mid: slots.first?.mid)
        }
    }

    func subscribeAnswer(participantId: String, body: SessionDescriptionBody) async throws(SignalingError) {
        guard let participant = participants[participantId] else { return }
        guard let outstanding = participant.outstanding, outstanding.revision == body.revision else {
            throw SignalingError(.staleRevision, "no subscribe offer of revision \(body.revision ?? 0) is outstanding")
        }
        // The whole answer is validated (and its subscriptions decided) before anything changes.
        let acceptance = try RoomNegotiation.acceptSubscribeAnswer(body.sdp, offered: outstanding.slots)
        let remote = acceptance.remote
        participant.outstanding = nil
        let roomName = mediaKey
        let events = mediaEvents()
        let credentials = outstanding.credentials
        if let transport = participant.subscribeTransport {
            if participant.subscribeLocal?.ufrag != credentials.ufrag || participant.subscribeRemoteUfrag != remote.ufrag {
                _ = try? await media.onLoop(loop) { $0.restartICE(transport, local: credentials, remoteUfrag: remote.ufrag) }
            }
        } else {
            do {
                participant.subscribeTransport = try await media.onLoop(loop) { loop in
                    let room = loop.room(named: roomName, events: events)
                    let session = SubscriberSession(room: room)
                    return try loop.addTransport(
                        remoteUfrag: remote.ufrag, remoteFingerprint: remote.fingerprint, purpose: .subscriber(session),
                        credentials: credentials
                    ).id
                }
            } catch {
                throw SignalingError(.internal, "could not open a media transport")
            }
        }
        participant.subscribeLocal = credentials
        participant.subscribeRemoteUfrag = remote.ufrag
        participant.iceRestartPending = false
        // Subscriptions: the offered tracks whose section the client accepted.
        let subscriptions = acceptance.subscriptions
        if let transport = participant.subscribeTransport {
            let wanted = subscriptions
            _ = try? await media.onLoop(loop) { loop in
                guard let room = loop.rooms[roomName], let session = room.subscribers[transport] else { return }
                room.setSubscriptions(session, wanted)
            }
        }
        if participant.renegotiationPending { await renegotiate(participant) }
    }

    // MARK: Camera control

    /// Camera advertisements, floor operations, commands and acknowledgements: the rules are
    /// `CameraControl`'s; the room delivers what it decides and keeps its timer.
    func camera(_ message: ClientMessage, from participantId: String) async throws(SignalingError) {
        guard participants[participantId] != nil else { return }
        await apply(camera.handle(message, from: participantId, now: .now))
    }

    /// Carries out the camera rules' decisions: messages, refusals, audit records, and the next tick.
    func apply(_ outputs: [CameraOutput]) async {
        for output in outputs {
            switch output {
            case .send(let to, let message):
                participants[to]?.outbox?.send(message)
            case .broadcast(let message, let except):
                broadcast(message, except: except)
                if case .floor(let floor) = message {
                    observer.event(.cameraFloor, scope, participant: floor.controller,
                                   detail: "\(floor.cameraId): \(floor.controller.map { "controlled by \($0)" } ?? "free"), \(floor.requested.count) waiting")
                }
            case .refuse(let to, let requestId, let error):
                participants[to]?.outbox?.fail(error, requestId: requestId)
            case .audit(let record):
                logger.info("camera audit", metadata: [
                    "participant": "\(record.participantId)", "camera": "\(record.cameraId ?? "-")", "kind": "\(record.kind)",
                    "outcome": "\(record.outcome)",
                ])
                await registry.audit(room: name, record)
                observer.camera(scope, record, at: Date())
            }
        }
        scheduleCameraTick()
    }

    /// One timer for the rules' next deadline (deadman stops, coalesced moves due).
    private func scheduleCameraTick() {
        guard let deadline = camera.nextDeadline else {
            cameraTimer?.cancel()
            cameraTimer = nil
            cameraTimerDeadline = nil
            return
        }
        if let current = cameraTimerDeadline, current <= deadline, cameraTimer != nil { return }
        cameraTimer?.cancel()
        cameraTimerDeadline = deadline
        let delay = deadline.since(.now)
        cameraTimer = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self?.cameraTick()
        }
    }

    private func cameraTick() async {
        cameraTimer = nil
        cameraTimerDeadline = nil
        await apply(camera.tick(now: .now))
    }

    // MARK: Media events

    private nonisolated func mediaEvents() -> @Sendable (RoomMediaEvent) -> Void {
        { [weak self] event in
            guard let self else { return }
            Task { await self.handle(event) }
        }
    }

    private func handle(_ event: RoomMediaEvent) async {
        switch event {
        case .transportConnected(let id, let profile):
            guard let participant = participants.values.first(where: { $0.publishTransport == id || $0.subscribeTransport == id }) else { return }
            observer.event(.transportConnected, scope, participant: participant.id,
                           detail: "\(participant.publishTransport == id ? "publish" : "subscribe"): \(profile)")
        case .transportClosed(let id, let reason):
            guard let participant = participants.values.first(where: { $0.publishTransport == id || $0.subscribeTransport == id }) else { return }
            logger.info("media transport closed", metadata: ["participant": "\(participant.id)", "transport": "\(id)", "reason": "\(reason)"])
            observer.event(.transportClosed, scope, participant: participant.id,
                           detail: "\(participant.publishTransport == id ? "publish" : "subscribe"): \(reason)")
            if participant.publishTransport == id {
                participant.publishTransport = nil
                participant.publishRemote = nil
                let gone = participant.published
                participant.published = []
                for (_, track) in gone {
                    broadcast(.trackUnpublished(TrackUnpublished(trackId: track.trackId, participantId: participant.id)), except: nil)
                }
                if !gone.isEmpty { for other in participants.values where other.id != participant.id { await renegotiate(other) } }
            } else {
                participant.subscribeTransport = nil
                participant.subscribeLocal = nil
                participant.subscribeRemoteUfrag = nil
                participant.outstanding = nil
                participant.candidatesSent = nil
                // The subscriber still wants the room's tracks: a fresh offer (new ICE credentials)
                // lets it connect a new subscribe transport; its answer opens that transport.
                if participant.outbox != nil { await renegotiate(participant, force: true) }
            }
            // A participant with no signaling connection whose media also went silent is gone.
            if participant.outbox == nil, participant.publishTransport == nil, participant.subscribeTransport == nil {
                await remove(participant, reason: .disconnected)
            }
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Random URL-safe token (participant ids, resume tokens): not guessable, not a secret's hash.
func randomToken(_ length: Int) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    var generator = SystemRandomNumberGenerator()
    return String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
}
