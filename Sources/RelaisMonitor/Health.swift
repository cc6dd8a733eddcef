// What makes a consultation worth the operator's attention: the neurologist says the stroke cart
// is frozen; the operator must find that row at a glance and read why.
import Foundation
public import RelaisAdmin

/// One reason a consultation needs attention.
public struct HealthIssue: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: Int, Sendable, Comparable {
        /// Worth knowing, not necessarily happening now (freezes earlier in the consultation).
        case notice = 1
        /// Happening now: a participant gone, a stalled or freezing video, loss, a connection down.
        case alert = 2
        public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }
    }

    public var severity: Severity
    public var text: String

    public var description: String { text }
}

/// Loss above this (fraction of packets over the last report interval) is flagged.
public let lossAlertThreshold = 0.02

public enum Health {
    /// The issues of a consultation, most severe first. `previous` is the same consultation at the
    /// last refresh (`watch`): with it, a freeze counter that moved is an alert ("froze now");
    /// without it, past freezes are only a notice.
    public static func issues(of session: Session, previous: Session? = nil) -> [HealthIssue] {
        var issues: [HealthIssue] = []
        let previousTracks = previous.map(trackIndex) ?? [:]
        for participant in session.participants {
            let who = participant.name.isEmpty ? participant.id : participant.name
            if participant.state == .disconnected {
                issues.append(.init(severity: .alert, text: "\(who) disconnected"))
            }
            for (label, connection) in [("publish", participant.publish), ("subscribe", participant.subscribe)] {
                guard let connection else { continue }
                if connection.state != "connected" {
                    issues.append(.init(severity: .alert, text: "\(who) \(label) \(connection.state)"))
                } else if connection.dtlsState != "connected" {
                    issues.append(.init(severity: .alert, text: "\(who) \(label) dtls \(connection.dtlsState)"))
                }
                for track in connection.tracks {
                    let key = TrackKey(participant: participant.id, label: label, track: track)
                    if track.kind == "video", track.direction == .in, track.packets > 0, track.bitrateKbps <= 0,
                       connection.state == "connected" {
                        issues.append(.init(severity: .alert, text: "\(who) video stalled"))
                    }
                    if track.freezes > 0 {
                        if let before = previousTracks[key], track.freezes > before.freezes {
                            issues.append(.init(severity: .alert, text: "\(who) \(track.direction.rawValue) \(track.kind) froze"))
                        } else if previous == nil || previousTracks[key] == nil {
                            issues.append(.init(severity: .notice, text: "\(who) \(track.direction.rawValue) \(track.kind) \(track.freezes) freeze\(track.freezes == 1 ? "" : "s")"))
                        }
                    }
                    if track.fractionLost > lossAlertThreshold {
                        issues.append(.init(severity: .alert, text: "\(who) \(track.direction.rawValue) \(track.kind) loss \(Format.percent(track.fractionLost))"))
                    }
                }
            }
        }
        // Stable: alerts first, each group in the order found (participants as the relay lists them).
        return issues.enumerated().sorted { a, b in
            a.element.severity != b.element.severity ? a.element.severity > b.element.severity : a.offset < b.offset
        }.map(\.element)
    }

    /// The flag column: `!` for an alert, `~` for a notice only, blank when all is well.
    public static func flag(_ issues: [HealthIssue]) -> String {
        switch issues.map(\.severity).max() {
        case .alert: "!"
        case .notice: "~"
        case nil: ""
        }
    }

    struct TrackKey: Hashable {
        var participant: String
        var label: String
        var trackId: String
        var direction: TrackStats.Direction
        init(participant: String, label: String, track: TrackStats) {
            self.participant = participant
            self.label = label
            self.trackId = track.trackId
            self.direction = track.direction
        }
    }

    static func trackIndex(_ session: Session) -> [TrackKey: TrackStats] {
        var index: [TrackKey: TrackStats] = [:]
        for participant in session.participants {
            for (label, connection) in [("publish", participant.publish), ("subscribe", participant.subscribe)] {
                for track in connection?.tracks ?? [] {
                    index[TrackKey(participant: participant.id, label: label, track: track)] = track
                }
            }
        }
        return index
    }
}

extension Session {
    /// Every track of every peer connection.
    public var allTracks: [TrackStats] {
        participants.flatMap { ($0.publish?.tracks ?? []) + ($0.subscribe?.tracks ?? []) }
    }

    /// The worst fraction lost over the last interval, any track, 0 when there is none.
    public var worstFractionLost: Double { allTracks.map(\.fractionLost).max() ?? 0 }

    /// What the relay receives (`in` tracks) and forwards (`out` tracks), kbit/s.
    public var bitrateInKbps: Double { allTracks.filter { $0.direction == .in }.reduce(0) { $0 + $1.bitrateKbps } }
    public var bitrateOutKbps: Double { allTracks.filter { $0.direction == .out }.reduce(0) { $0 + $1.bitrateKbps } }

    /// `cart, 2 expert`: roles in order of first appearance, counted.
    public var rolesSummary: String {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for participant in participants {
            if counts[participant.role] == nil { order.append(participant.role) }
            counts[participant.role, default: 0] += 1
        }
        return order.map { counts[$0] == 1 ? $0 : "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", ")
    }

    /// A participant's display name by id (`controller`, `fromParticipant`), or the id itself.
    public func displayName(of participantId: String) -> String {
        participants.first { $0.id == participantId }.map { $0.name.isEmpty ? $0.id : $0.name } ?? participantId
    }

    /// Who steers the cameras: controller names, `-` when no one holds a floor.
    public var cameraControllers: String {
        let names = cameras.compactMap { $0.controller.map(displayName(of:)) }
        return names.isEmpty ? "-" : names.joined(separator: ", ")
    }
}
