import Foundation
import RelaisAdmin
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// The operators' side of a room: what the admin API shows of it and the actions it can take.
extension Room {
    /// The consultation as the admin API shows it: participants, their peer connections with the
    /// media loop's statistics (one hop to the loop per request), and the cameras.
    func adminSession() async -> Session {
        let ids = order.compactMap { participants[$0] }.flatMap { [$0.publishTransport, $0.subscribeTransport].compactMap { $0 } }
        let statistics = (try? await media.roomStatistics(loop: loop, room: name, transports: ids)) ?? RoomMediaStatistics(transports: [:], localAddress: nil)
        // Tracks by their publisher, to name where a forwarded track comes from.
        var publisherOfTrack: [String: String] = [:]
        for participant in participants.values {
            for (_, track) in participant.published { publisherOfTrack[track.trackId] = participant.id }
        }
        let people = order.compactMap { participants[$0] }.map { (participant: ParticipantState) -> RelaisAdmin.Participant in
            RelaisAdmin.Participant(
                id: participant.id, name: participant.info.displayName, role: participant.info.role.rawValue,
                subject: participant.subject, joinedAt: participant.joinedAt,
                state: participant.outbox == nil ? .disconnected : .connected,
                publish: participant.publishTransport.flatMap { statistics.peerConnection($0, publisherOfTrack: publisherOfTrack) },
                subscribe: participant.subscribeTransport.flatMap { statistics.peerConnection($0, publisherOfTrack: publisherOfTrack) })
        }
        let cameras = camera.allCameraStates.map { state in
            RelaisAdmin.Camera(cameraId: state.cameraId, cart: state.cartId, controller: state.controller, moving: camera.isMoving(cameraId: state.cameraId))
        }
        return Session(id: consultationID, room: name, startedAt: startedAt, loop: loop, participants: people, cameras: cameras)
    }

    var participantIDs: [String] { order }

    func hasParticipant(_ id: String) -> Bool { participants[id] != nil }

    /// Removes one participant at an operator's request: it is told `left` {removed} and closed.
    func removeByOperator(_ id: String, operator subject: String) async -> Bool {
        guard let participant = participants[id] else { return false }
        logger.notice("participant removed by operator", metadata: ["participant": "\(id)", "operator": "\(subject)"])
        observer.event(.participantLeft, scope, participant: id, detail: "removed by operator \(subject)")
        participant.outbox?.send(.left(LeftBody(reason: .removed)))
        participant.outbox?.close(code: 1000)
        participant.outbox = nil
        await remove(participant, reason: .removed)
        return true
    }

    /// Ends the consultation at an operator's request: everyone is told `left` {ended} and closed.
    func endByOperator(operator subject: String) async -> [String] {
        logger.notice("consultation ended by operator", metadata: ["operator": "\(subject)"])
        endReason = "ended by operator \(subject)"
        let everyone = order.compactMap { participants[$0] }
        // Silence everyone first, so nobody receives a stream of participantLeft for the others.
        for participant in everyone {
            participant.outbox?.send(.left(LeftBody(reason: .ended)))
            participant.outbox?.close(code: 1000)
            participant.outbox = nil
        }
        for participant in everyone { await remove(participant, reason: .ended) }
        return everyone.map(\.id)
    }
}

/// What the media loop knows of some of a room's transports (admin API snapshots).
struct RoomMediaStatistics: Sendable {
    var transports: [TransportID: TransportSnapshot]
    var localAddress: TransportAddress?

    func peerConnection(_ id: TransportID, publisherOfTrack: [String: String]) -> PeerConnection? {
        guard let snapshot = transports[id] else { return nil }
        let state: String
        let dtls: String
        if snapshot.closed {
            (state, dtls) = ("closed", "closed")
        } else if snapshot.connected {
            (state, dtls) = ("connected", "connected")
        } else if snapshot.selected != nil {
            (state, dtls) = ("connecting", "connecting")
        } else {
            (state, dtls) = ("new", "new")
        }
        let pair = snapshot.selected.map { CandidatePair(local: localAddress.map { "\($0)" } ?? "-", remote: "\($0)") }
        var drops: [String: Int] = [:]
        for (reason, count) in snapshot.drops { drops["\(reason)", default: 0] += count }
        return PeerConnection(
            state: state, selectedPair: pair, dtlsState: dtls, srtpProfile: snapshot.profile?.rawValue,
            packetsIn: snapshot.stats.rtpIn + snapshot.stats.rtcpIn, packetsOut: snapshot.stats.rtpOut + snapshot.stats.rtcpOut,
            bytesIn: snapshot.stats.bytesIn, bytesOut: snapshot.stats.bytesOut, drops: drops, tracks: [])
    }
}

extension MediaServer {
    /// Snapshots of the given transports of one loop, and the loop's socket address.
    func roomStatistics(loop: Int, room: String, transports: [TransportID]) async throws -> RoomMediaStatistics {
        try await onLoop(loop) { mediaLoop in
            var snapshots: [TransportID: TransportSnapshot] = [:]
            for id in transports { snapshots[id] = mediaLoop.transportSnapshot(id) }
            return RoomMediaStatistics(transports: snapshots, localAddress: mediaLoop.localAddress)
        }
    }
}
