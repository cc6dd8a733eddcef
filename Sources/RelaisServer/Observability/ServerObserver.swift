import Foundation
import Logging
import RelaisAdmin
import RelaisCamera
import RelaisHistory

/// Where the relay reports what happens in its consultations: the live event stream, the
/// Prometheus counters and the persistent history. Every call returns at once.
struct ServerObserver: Sendable {
    let events: SessionEventHub
    let metrics: ServerMetrics
    let history: HistoryRecorder?

    /// Identifies a consultation in every report.
    struct Scope: Sendable {
        var consultation: String
        var room: String
    }

    func consultationStarted(_ scope: Scope, at: Date) {
        metrics.consultationStarted()
        events.publish(SessionEvent(type: .consultationStarted, at: at, consultation: scope.consultation, room: scope.room))
        history?.record(.consultationStarted(id: scope.consultation, room: scope.room, at: at))
    }

    func consultationEnded(_ scope: Scope, reason: String, at: Date) {
        events.publish(SessionEvent(type: .consultationEnded, at: at, consultation: scope.consultation, room: scope.room, detail: reason))
        history?.record(.consultationEnded(id: scope.consultation, at: at, reason: reason))
    }

    func participantJoined(_ scope: Scope, participant: String, subject: String, name: String, role: String, at: Date) {
        metrics.participantJoined(role: role)
        events.publish(SessionEvent(type: .participantJoined, at: at, consultation: scope.consultation, room: scope.room, participant: participant, detail: "\(role) \(name)"))
        history?.record(.participantJoined(consultation: scope.consultation, participant: participant, subject: subject, name: name, role: role, at: at))
    }

    /// `operator` names who removed the participant, for the live stream (the history keeps the reason).
    func participantLeft(_ scope: Scope, participant: String, reason: String, by operator: String? = nil, at: Date) {
        metrics.participantLeft(reason: reason)
        let detail = `operator`.map { "\(reason) by operator \($0)" } ?? reason
        events.publish(SessionEvent(type: .participantLeft, at: at, consultation: scope.consultation, room: scope.room, participant: participant, detail: detail))
        history?.record(.participantLeft(consultation: scope.consultation, participant: participant, reason: reason, at: at))
    }

    /// Events with no history row of their own (the join and leave rows bound them).
    func event(_ type: SessionEvent.Kind, _ scope: Scope, participant: String?, detail: String?, at: Date = Date()) {
        events.publish(SessionEvent(type: type, at: at, consultation: scope.consultation, room: scope.room, participant: participant, detail: detail))
    }

    func camera(_ scope: Scope, _ record: CameraAuditRecord, at: Date) {
        let result = record.outcome.auditResult
        metrics.cameraCommand(result: result.metric)
        events.publish(SessionEvent(
            type: .cameraCommand, at: at, consultation: scope.consultation, room: scope.room, participant: record.participantId,
            detail: "\(record.kind) \(record.cameraId ?? "-") \(result.text)"))
        history?.record(.cameraCommand(CameraCommandRecord(
            at: at, room: scope.room, consultation: scope.consultation, participant: record.participantId,
            camera: record.cameraId ?? "", command: record.kind, result: result.text, detail: record.commandId)))
    }

    /// A signaling error sent to a client (every `error` message), for metrics, events and audit.
    ///
    /// Errors sent before a `join` (no scope) are only counted: anyone can provoke them without
    /// a token, so writing each to the history would let a stranger fill the disk and bury the
    /// audit trail of real consultations.
    func signalingError(_ scope: Scope?, participant: String?, code: String, message: String, at: Date = Date()) {
        metrics.signalingError(code: code)
        guard let scope else { return }
        events.publish(SessionEvent(type: .error, at: at, consultation: scope.consultation, room: scope.room, participant: participant, detail: "\(code): \(message)"))
        history?.record(.error(ErrorRecord(at: at, room: scope.room, consultation: scope.consultation, participant: participant, code: code, message: message)))
    }
}

extension CameraAuditOutcome {
    /// A label for metrics (bounded set) and a text for the audit trail.
    var auditResult: (metric: String, text: String) {
        switch self {
        case .forwarded(let id): ("forwarded", "forwarded \(id)")
        case .coalesced: ("coalesced", "coalesced")
        case .refused(let code): ("refused", "refused:\(code.rawValue)")
        case .deadmanStop(let cause, let id): ("relay_stop", "relay_stop:\(cause.rawValue) \(id)")
        case .ack(let result): ("ack", "ack:\(result)")
        case .ackDropped: ("ack_dropped", "ack_dropped")
        case .accepted: ("accepted", "accepted")
        }
    }
}
