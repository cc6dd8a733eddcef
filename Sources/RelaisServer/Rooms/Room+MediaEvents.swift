import Foundation
import Logging
import RelaisCamera
import RelaisAuth
import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// What the media loop tells the room, in order (see `mediaEventSink`).
extension Room {
    /// What the room's media state on the loop calls: a yield into the room's one event stream
    /// (no task per event, so no reordering), cheap enough for the loop's thread.
    nonisolated func mediaEvents() -> @Sendable (RoomMediaEvent) -> Void {
        { [sink = mediaEventSink] event in sink.yield(event) }
    }

    func handle(_ event: RoomMediaEvent) async {
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
                await withdrawPublishedTracks(participant)
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

    /// The participant's tracks are gone with its publish transport: the others are told, and
    /// their subscriptions renegotiated.
    func withdrawPublishedTracks(_ participant: ParticipantState) async {
        let gone = participant.published
        participant.published = []
        for (_, track) in gone {
            broadcast(.trackUnpublished(TrackUnpublished(trackId: track.trackId, participantId: participant.id)), except: nil)
        }
        if !gone.isEmpty { for other in participants.values where other.id != participant.id { await renegotiate(other) } }
    }
}
