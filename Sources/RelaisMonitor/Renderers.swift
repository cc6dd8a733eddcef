// The operators' screens as pure functions: model values and `now` in, text out. `watch` draws the
// same text the one-shot commands print, so what a test checks is what the operator sees.
public import Foundation
public import RelaisAdmin

public enum Render {
    // MARK: sessions

    /// The live consultations, one row each, flagged ones first, then by room.
    /// `previous` (from the last `watch` refresh) turns freeze counters that moved into alerts.
    public static func sessions(_ list: SessionList, now: Date, previous: SessionList? = nil) -> String {
        guard !list.sessions.isEmpty else { return "no live consultations\n" }
        var table = TextTable([
            .init(""), .init("ID"), .init("ROOM"), .init("AGE", .right), .init("PART", .right), .init("ROLES"),
            .init("LOSS", .right), .init("IN kbit/s", .right), .init("OUT kbit/s", .right), .init("CAMERA"), .init("ATTENTION"),
        ])
        let previousById = Dictionary((previous?.sessions ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let assessed = list.sessions.map { ($0, Health.issues(of: $0, previous: previousById[$0.id])) }
        let ordered = assessed.sorted { a, b in
            let (fa, fb) = (a.1.map(\.severity).max()?.rawValue ?? 0, b.1.map(\.severity).max()?.rawValue ?? 0)
            if fa != fb { return fa > fb }
            return (a.0.room, a.0.id) < (b.0.room, b.0.id)
        }
        for (session, issues) in ordered {
            table.append([
                Health.flag(issues), session.id, session.room, Format.duration(now.timeIntervalSince(session.startedAt)),
                String(session.participants.count), session.rolesSummary.isEmpty ? "-" : session.rolesSummary,
                Format.percent(session.worstFractionLost), Format.kbps(session.bitrateInKbps), Format.kbps(session.bitrateOutKbps),
                session.cameraControllers, issues.map(\.text).joined(separator: "; "),
            ])
        }
        return table.render()
    }

    // MARK: show

    /// One consultation in detail: participants, their peer connections and tracks, cameras.
    public static func session(_ session: Session, now: Date, previous: Session? = nil) -> String {
        var out = "consultation \(session.id)  room \(session.room)  started \(Format.dateTime(session.startedAt)) UTC"
        out += " (\(Format.duration(now.timeIntervalSince(session.startedAt))) ago)  loop \(session.loop)"
        out += "  recording \(session.recording ?? "-")\n"
        let issues = Health.issues(of: session, previous: previous)
        if !issues.isEmpty {
            out += "\(Health.flag(issues)) attention: \(issues.map(\.text).joined(separator: "; "))\n"
        }
        out += "\n"
        if session.participants.isEmpty { out += "no participants\n" }
        for participant in session.participants {
            let flag = participant.state == .disconnected ? "!" : " "
            out += "\(flag) \(participant.id)  \(participant.role)  \"\(participant.name)\"  \(participant.state.rawValue)"
            out += "  joined \(Format.time(participant.joinedAt)) (\(Format.duration(now.timeIntervalSince(participant.joinedAt))) ago)"
            out += "  subject \(participant.subject)\n"
            for (label, connection) in [("publish", participant.publish), ("subscribe", participant.subscribe)] {
                guard let connection else { continue }
                out += peerConnection(label, connection, in: session)
            }
            if participant.publish == nil, participant.subscribe == nil { out += "    no peer connection\n" }
        }
        out += "\n"
        if session.cameras.isEmpty {
            out += "cameras: none\n"
        } else {
            var table = TextTable([.init("CAMERA"), .init("CART"), .init("CONTROLLER"), .init("MOVING")])
            for camera in session.cameras {
                table.append([
                    camera.cameraId, session.displayName(of: camera.cart),
                    camera.controller.map { "\(session.displayName(of: $0)) (\($0))" } ?? "-",
                    camera.moving ? "yes" : "no",
                ])
            }
            out += table.render()
        }
        return out
    }

    static func peerConnection(_ label: String, _ pc: PeerConnection, in session: Session) -> String {
        let flag = pc.state == "connected" && pc.dtlsState == "connected" ? " " : "!"
        var out = "  \(flag) \(label): \(pc.state)"
        out += "  pair \(pc.selectedPair.map { "\($0.local) <-> \($0.remote)" } ?? "-")"
        out += "  dtls \(pc.dtlsState)  srtp \(pc.srtpProfile ?? "-")"
        out += "  packets in \(pc.packetsIn) out \(pc.packetsOut)  bytes in \(pc.bytesIn) out \(pc.bytesOut)"
        let drops = pc.drops.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        if !drops.isEmpty { out += "  drops " + drops.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
        if let feedback = pc.congestionFeedback {
            out += feedback.transportWide ? "  twcc \(feedback.feedbackPackets) fb / \(feedback.packetsReported) pkts" : "  twcc -"
            out += "  remb \(feedback.rembKbps.map { Format.kbps($0) + " kbit/s" } ?? "-")"
        }
        out += "\n"
        guard !pc.tracks.isEmpty else { return out + "      no tracks\n" }
        var table = TextTable([
            .init(""), .init("DIR"), .init("KIND"), .init("TRACK"), .init("FROM"), .init("kbit/s", .right), .init("PACKETS", .right),
            .init("LOST", .right), .init("LOSS", .right), .init("JITTER ms", .right), .init("RTT ms", .right),
            .init("NACK", .right), .init("PLI", .right), .init("KEYFR", .right), .init("FREEZES", .right),
        ], indent: "    ")
        for track in pc.tracks {
            let stalled = track.kind == "video" && track.direction == .in && track.packets > 0 && track.bitrateKbps <= 0
            let flag = track.fractionLost > lossAlertThreshold || stalled ? "!" : (track.freezes > 0 ? "~" : "")
            table.append([
                flag, track.direction.rawValue, track.kind, track.trackId,
                track.fromParticipant.map(session.displayName(of:)) ?? "-",
                Format.kbps(track.bitrateKbps), String(track.packets), String(track.packetsLost), Format.percent(track.fractionLost),
                Format.millis(track.jitterMs), Format.millis(track.roundTripMs),
                String(track.nacks), String(track.plis), String(track.keyframes), String(track.freezes),
            ])
        }
        return out + table.render() + pc.tracks.map(layerLine).joined()
    }

    /// A simulcast track's layers (`in`: each layer the relay receives) or the layer a subscriber
    /// gets (`out`), one line under the table; nothing for a single-stream track.
    static func layerLine(_ track: TrackStats) -> String {
        if let layers = track.layers, !layers.isEmpty {
            let described = layers.map { layer in
                let size = layer.width.map { "\($0)x\(layer.height ?? 0)" } ?? "?x?"
                return "\(layer.rid) \(size) \(Format.kbps(layer.framesPerSecond)) fps \(Format.kbps(layer.bitrateKbps)) kbit/s -> \(layer.subscribers)"
            }
            return "      layers of \(track.trackId): " + described.joined(separator: ", ") + "\n"
        }
        guard let layer = track.layer else { return "" }
        return "      \(track.trackId) receives layer \(layer) (\(track.layerSwitches ?? 0) switches)\n"
    }

    // MARK: history and audit

    public static func history(_ list: HistoryList, now: Date) -> String {
        var out = "consultations since \(Format.dateTime(list.since)) UTC: \(list.consultations.count)\n"
        guard !list.consultations.isEmpty else { return out }
        var table = TextTable([
            .init("START (UTC)"), .init("END"), .init("DURATION", .right), .init("ROOM"), .init("ID"), .init("PARTICIPANTS"), .init("END REASON"),
        ])
        for consultation in list.consultations {
            let end = consultation.endedAt
            table.append([
                Format.dateTime(consultation.startedAt),
                end.map { sameDay($0, consultation.startedAt) ? Format.time($0) : Format.dateTime($0) } ?? "live",
                Format.duration((end ?? now).timeIntervalSince(consultation.startedAt)),
                consultation.room, consultation.id,
                consultation.participants.isEmpty ? "-" : consultation.participants.map { "\($0.name) (\($0.role))" }.joined(separator: ", "),
                consultation.endReason ?? (end == nil ? "-" : "?"),
            ])
        }
        out += table.render()
        return out
    }

    public static func audit(_ list: AuditList) -> String {
        var out = "audit since \(Format.dateTime(list.since)) UTC\(list.room.map { " in room \($0)" } ?? ""): \(list.entries.count) entries\n"
        guard !list.entries.isEmpty else { return out }
        var table = TextTable([
            .init("TIME (UTC)"), .init("KIND"), .init("ROOM"), .init("PARTICIPANT"), .init("CAMERA"), .init("ACTION"), .init("RESULT"), .init("DETAIL"),
        ])
        for entry in list.entries {
            table.append([
                Format.dateTime(entry.at), entry.kind == .cameraCommand ? "camera" : "error", entry.room ?? "-",
                entry.participant ?? "-", entry.camera ?? "-", entry.action, entry.result.isEmpty ? "-" : entry.result,
                entry.detail ?? "",
            ])
        }
        out += table.render()
        return out
    }

    // MARK: actions and events

    public static func ended(_ result: ActionResult) -> String {
        "ended consultation \(result.consultation) (room \(result.room)): removed \(removedList(result))\n"
    }

    public static func kicked(_ participant: String, _ result: ActionResult) -> String {
        "removed participant \(participant) from consultation \(result.consultation) (room \(result.room)): removed \(removedList(result))\n"
    }

    static func removedList(_ result: ActionResult) -> String {
        result.removed.isEmpty ? "nobody" : result.removed.joined(separator: ", ")
    }

    /// One line per live event: `14:27:27  participantLeft  stroke-1  c-…  p-…  removed`.
    public static func event(_ event: SessionEvent) -> String {
        var line = "\(Format.time(event.at))  \(event.type.rawValue)  \(event.room)  \(event.consultation)"
        if let participant = event.participant { line += "  \(participant)" }
        if let detail = event.detail, !detail.isEmpty { line += "  \(detail)" }
        return line + "\n"
    }

    // MARK: watch

    /// The first line of a `watch` frame: server, time, number of live consultations.
    public static func watchHeader(server: String, now: Date, sessionCount: Int?, interval: Double) -> String {
        let count = sessionCount.map { "\($0) session\($0 == 1 ? "" : "s")" } ?? "? sessions"
        return "relais-monitor  \(server)  \(Format.dateTime(now)) UTC  \(count)  every \(Format.fixed(interval, interval < 1 ? 1 : 0))s  (Ctrl-C to quit)\n"
    }

    static func sameDay(_ a: Date, _ b: Date) -> Bool {
        Format.dateTime(a).prefix(10) == Format.dateTime(b).prefix(10)
    }
}
