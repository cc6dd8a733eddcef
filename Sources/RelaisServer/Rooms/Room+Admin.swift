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
        let statistics = (try? await media.roomStatistics(loop: loop, room: mediaKey)) ?? RoomMediaStatistics(transports: [:])
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
                publish: participant.publishTransport.flatMap { statistics.transports[$0]?.peerConnection(publisherOfTrack: publisherOfTrack) },
                subscribe: participant.subscribeTransport.flatMap { statistics.transports[$0]?.peerConnection(publisherOfTrack: publisherOfTrack) })
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
        participant.outbox?.send(.left(LeftBody(reason: .removed)))
        participant.outbox?.close(code: 1000)
        participant.outbox = nil
        await remove(participant, reason: .removed, by: subject)
        return true
    }

    /// Ends the consultation at an operator's request: everyone is told `left` {ended} and closed.
    func endByOperator(operator subject: String) async -> [String] {
        logger.notice("consultation ended by operator", metadata: ["operator": "\(subject)"])
        endReason = "ended by operator \(subject)"
        let everyone = order.compactMap { participants[$0] }
        // Moving cameras get the relay's stop first, while the carts' connections are still open:
        // the departures below run after the close and could no longer deliver it.
        await apply(camera.stopAll(cause: .consultationEnded, now: .now))
        // Silence everyone first, so nobody receives a stream of participantLeft for the others.
        for participant in everyone {
            participant.outbox?.send(.left(LeftBody(reason: .ended)))
            participant.outbox?.close(code: 1000)
            participant.outbox = nil
        }
        for participant in everyone { await remove(participant, reason: .ended, by: subject) }
        return everyone.map(\.id)
    }
}

extension TransportStatistics {
    /// The admin API's view of one peer connection. `in` tracks are what the participant
    /// publishes; `out` tracks what the relay forwards to it, named by their publisher.
    func peerConnection(publisherOfTrack: [String: String]) -> PeerConnection {
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
        let inbound = published.map { track in
            TrackStats(
                trackId: track.trackID, kind: track.kind, direction: .in, ssrc: track.ssrc, bitrateKbps: track.bitrateKbps,
                packets: track.packets, bytes: track.bytes, packetsLost: track.packetsLost, fractionLost: track.fractionLost,
                jitterMs: track.jitterMs, roundTripMs: nil, nacks: track.nacks, plis: track.plis, keyframes: track.keyframes,
                freezes: track.freezes,
                layers: track.layers.isEmpty ? nil : track.layers.map { layer in
                    LayerStats(
                        rid: layer.rid, ssrc: layer.ssrc, width: layer.width, height: layer.height,
                        framesPerSecond: (layer.framesPerSecond * 10).rounded() / 10, bitrateKbps: layer.bitrateKbps.rounded(),
                        packets: layer.packets, keyframes: layer.keyframes, subscribers: layer.subscribers)
                })
        }
        let outbound = forwarded.map { track in
            TrackStats(
                trackId: track.trackID, kind: track.kind, direction: .out, ssrc: track.outputSSRC,
                fromParticipant: publisherOfTrack[track.trackID], bitrateKbps: track.bitrateKbps, packets: track.packets,
                bytes: track.bytes, packetsLost: track.packetsLost, fractionLost: track.fractionLost, jitterMs: track.jitterMs,
                roundTripMs: track.roundTripMs, nacks: track.nacks, plis: track.plis, keyframes: track.keyframes, freezes: track.freezes,
                layer: track.layer, layerSwitches: track.layer == nil ? nil : track.layerSwitches)
        }
        return PeerConnection(
            state: state, selectedPair: pair, dtlsState: dtls, srtpProfile: snapshot.profile?.rawValue,
            packetsIn: snapshot.stats.rtpIn + snapshot.stats.rtcpIn, packetsOut: snapshot.stats.rtpOut + snapshot.stats.rtcpOut,
            bytesIn: snapshot.stats.bytesIn, bytesOut: snapshot.stats.bytesOut, drops: drops, tracks: inbound + outbound,
            congestionFeedback: publisherFeedback.map { feedback in
                CongestionFeedback(
                    transportWide: feedback.transportWide, feedbackPackets: feedback.feedbackPackets,
                    packetsReported: feedback.packetsReported, rembKbps: feedback.rembBitrate.map { Double($0) / 1000 })
            })
    }
}
