public import Foundation

/// One consultation as recorded: when it started and ended, and every participant session in it
/// (a participant who rejoined appears once per join, oldest first).
public struct ConsultationRecord: Sendable, Codable, Equatable {
    public var id: String
    public var room: String
    public var startedAt: Date
    /// Nil while the consultation is open (or the relay died before ending it; see
    /// ``HistoryStore/closeDangling(at:reason:)``).
    public var endedAt: Date?
    public var endReason: String?
    public var participants: [ParticipantRecord]

    public init(
        id: String, room: String, startedAt: Date, endedAt: Date? = nil, endReason: String? = nil,
        participants: [ParticipantRecord] = []
    ) {
        self.id = id
        self.room = room
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.participants = participants
    }
}

/// One participant session in a consultation, from join to leave.
public struct ParticipantRecord: Sendable, Codable, Equatable {
    /// The relay's participant id (per connection).
    public var participant: String
    /// The identity behind it (the token's subject).
    public var subject: String
    public var name: String
    public var role: String
    public var joinedAt: Date
    public var leftAt: Date?
    public var leaveReason: String?

    public init(
        participant: String, subject: String, name: String, role: String, joinedAt: Date,
        leftAt: Date? = nil, leaveReason: String? = nil
    ) {
        self.participant = participant
        self.subject = subject
        self.name = name
        self.role = role
        self.joinedAt = joinedAt
        self.leftAt = leftAt
        self.leaveReason = leaveReason
    }
}

/// One camera command as audited: who asked which camera for what, and what the relay did.
public struct CameraCommandRecord: Sendable, Codable, Equatable {
    public var at: Date
    public var room: String
    public var consultation: String?
    public var participant: String
    public var camera: String
    public var command: String
    /// The outcome, e.g. "forwarded", "rejected", "coalesced".
    public var result: String
    public var detail: String?

    public init(
        at: Date, room: String, consultation: String?, participant: String, camera: String, command: String,
        result: String, detail: String?
    ) {
        self.at = at
        self.room = room
        self.consultation = consultation
        self.participant = participant
        self.camera = camera
        self.command = command
        self.result = result
        self.detail = detail
    }
}

/// One error worth keeping for operators (signaling failures, rejected tokens, transport errors).
public struct ErrorRecord: Sendable, Codable, Equatable {
    public var at: Date
    public var room: String?
    public var consultation: String?
    public var participant: String?
    public var code: String
    public var message: String

    public init(at: Date, room: String?, consultation: String?, participant: String?, code: String, message: String) {
        self.at = at
        self.room = room
        self.consultation = consultation
        self.participant = participant
        self.code = code
        self.message = message
    }
}
