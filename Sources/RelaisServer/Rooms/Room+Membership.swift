import Foundation
import Logging
import RelaisCamera
import RelaisAuth
import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// Who is in the room: join, resume after a dropped connection, detach, leave, removal, shutdown.
extension Room {
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

    func expireDetached(participantId: String, attachment: Int) async {
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
}
