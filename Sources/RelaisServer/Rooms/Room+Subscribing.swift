import Foundation
import Logging
import RelaisCamera
import RelaisAuth
import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// A participant's subscribe connection: the relay's offers of the others' tracks and the answers.
extension Room {
    // MARK: Subscribing

    /// Brings a participant's subscribe connection up to date with the room's tracks: sends a new
    /// offer when something changed (one outstanding offer at a time).
    func renegotiate(_ participant: ParticipantState, force: Bool = false) async {
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
        let local = RoomNegotiation.local(credentials: credentials, fingerprint: media.certificate.fingerprintSHA256, address: address)
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
            if participant.subscribeLocal?.ufrag != credentials.ufrag || participant.subscribeRemoteUfrag != remote.credentials.ufrag {
                _ = try? await media.onLoop(loop) { $0.restartICE(transport, local: credentials, remoteUfrag: remote.credentials.ufrag) }
            }
        } else {
            do {
                participant.subscribeTransport = try await media.onLoop(loop) { loop in
                    let room = loop.room(named: roomName, events: events)
                    let session = SubscriberSession(room: room)
                    return try loop.addTransport(
                        remoteUfrag: remote.credentials.ufrag, remoteFingerprint: remote.fingerprint, purpose: .subscriber(session),
                        credentials: credentials
                    ).id
                }
            } catch {
                throw SignalingError(.internal, "could not open a media transport")
            }
        }
        participant.subscribeLocal = credentials
        participant.subscribeRemoteUfrag = remote.credentials.ufrag
        participant.iceRestartPending = false
        // Subscriptions: the offered tracks whose section the client accepted.
        let subscriptions = acceptance.subscriptions
        if let transport = participant.subscribeTransport {
            let wanted = subscriptions
            let preferences = participant.layerPreferences
            _ = try? await media.onLoop(loop) { loop in
                guard let room = loop.rooms[roomName], let session = room.subscribers[transport] else { return }
                session.preferredLayers = preferences
                room.setSubscriptions(session, wanted)
            }
        }
        if participant.renegotiationPending { await renegotiate(participant) }
    }

    /// A subscriber chooses the simulcast layer it receives of a track (`rid` nil: the relay's
    /// choice). The choice holds for the track until changed, across renegotiations.
    func selectLayer(participantId: String, body: SelectLayerBody) async throws(SignalingError) {
        guard let participant = participants[participantId] else { return }
        guard let track = participant.slots.lazy.compactMap(\.track).first(where: { $0.trackId == body.trackId }) else {
            throw SignalingError(.unknownLayer, "track \(body.trackId.prefix(64)) is not one this participant receives")
        }
        if let rid = body.rid, !(track.layers ?? []).contains(rid) {
            throw SignalingError(.unknownLayer, "track \(body.trackId.prefix(64)) has no layer \(rid)")
        }
        participant.layerPreferences[body.trackId] = body.rid
        guard let transport = participant.subscribeTransport else { return }
        let roomName = mediaKey
        let (trackID, rid) = (body.trackId, body.rid)
        _ = try? await media.onLoop(loop) { loop in
            guard let room = loop.rooms[roomName], let session = room.subscribers[transport] else { return }
            room.setPreferredLayer(session, trackID: trackID, rid: rid)
        }
    }
}
