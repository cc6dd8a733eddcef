import Foundation
import Logging
import RelaisCamera
import RelaisAuth
import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// A participant's publish connection: its offers, the transport that carries them, the tracks
/// announced to the others.
extension Room {
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
        let transportCCExtension = negotiation.transportCCExtensionID
        // REMB carries the configured ceiling to a publisher that offered it.
        let rembBitrate = negotiation.offersREMB ? configuration.maxPublishBitrate : nil
        let trackSections = sections.map { (trackID: "\(participantId)-\($0.mid)", section: $0) }

        // Open the transport, restart ICE, or replace it when the DTLS identity changed.
        var newCredentials = false
        let roomName = mediaKey
        let events = mediaEvents()
        if let transport = participant.publishTransport, let previous = participant.publishRemote, previous.fingerprint == remote.fingerprint {
            if previous.credentials.ufrag != remote.credentials.ufrag {
                let local = ICECredentials.random()
                participant.publishLocal = local
                newCredentials = true
                _ = try? await media.onLoop(loop) { $0.restartICE(transport, local: local, remoteUfrag: remote.credentials.ufrag) }
            }
        } else {
            if let old = participant.publishTransport {
                // The old transport stops being the publisher's before the room awaits anything:
                // its closing, heard while the new one opens, is not the publisher's media going
                // away, and must not withdraw the tracks this offer keeps.
                participant.publishTransport = nil
                participant.publishRemote = nil
                _ = try? await media.onLoop(loop) { $0.removeTransport(old, reason: "publisher renegotiated a new DTLS identity") }
            }
            let opened: (TransportID, ICECredentials)
            do {
                opened = try await media.onLoop(loop) { loop in
                    let room = loop.room(named: roomName, events: events)
                    let session = PublisherSession(room: room)
                    let (id, credentials) = try loop.addTransport(remoteUfrag: remote.credentials.ufrag, remoteFingerprint: remote.fingerprint, purpose: .publisher(session))
                    return (id, credentials)
                }
            } catch {
                await withdrawPublishedTracks(participant)
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
            room.setPublishedTracks(
                session, sendable, midExtensionID: midExtension, transportCCExtensionID: transportCCExtension, rembBitrate: rembBitrate)
        }

        participant.publishVersion += 1
        let localParameters = RoomNegotiation.local(credentials: local, fingerprint: media.certificate.fingerprintSHA256, address: address)
        let answer = RoomNegotiation.publishAnswer(
            negotiation, local: localParameters, sessionID: sessionID, version: participant.publishVersion, remb: rembBitrate != nil)
        outbox.send(.answer(SessionDescriptionBody(requestId: body.requestId, target: .publish, sdp: answer)))
        if newCredentials { sendCandidates(outbox, target: .publish, local: localParameters, mid: sections.first?.mid) }

        // Announce what changed.
        let before = Set(participant.published.map(\.track.trackId))
        let now = trackSections.map { entry in
            (section: entry.section,
             track: Track(trackId: entry.trackID, participantId: participantId, kind: entry.section.kind, codec: entry.section.codecName,
                          layers: entry.section.rids.isEmpty ? nil : entry.section.rids))
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

    func sendCandidates(_ outbox: Outbox, target: PeerConnectionTarget, local: SDPTransportAttributes.Local, mid: String?) {
        let candidate = local.candidate
        outbox.send(.candidate(CandidateBody(target: target, candidate: CandidateInit(candidate: candidate.sdpValue, sdpMid: mid, sdpMLineIndex: 0, usernameFragment: local.credentials.ufrag))))
        outbox.send(.candidate(CandidateBody(target: target, candidate: nil)))
    }
}
