public import RelaisSignaling
public import RelaisWire

/// What the owner of a `CameraControl` (the server's Room actor) must do after feeding it a
/// message, a departure or a tick. Outputs are in the order they must be carried out.
public enum CameraOutput: Sendable, Equatable {
    /// Send a message to one participant.
    case send(to: String, ServerMessage)
    /// Send a message to every participant in the room, except `except` when not nil.
    case broadcast(ServerMessage, except: String?)
    /// Answer a participant's message with an `error` (carrying `requestId` when it had one).
    case refuse(to: String, requestId: String?, SignalingError)
    /// A record for the audit trail (also kept in `CameraControl.auditLog`).
    case audit(CameraAuditRecord)
}

/// Why the relay itself stopped a camera.
public enum RelayStopCause: String, Sendable, Codable, Equatable {
    /// The controller sent no move within the deadman interval while the camera was moving.
    case silence
    /// The controller left or was disconnected.
    case controllerLeft
    /// The controller released the floor.
    case floorReleased
    /// The cart revoked the floor.
    case floorRevoked
    /// The cart granted the floor to someone else.
    case floorReassigned
    /// An operator ended the consultation: every moving camera is stopped before the room closes.
    case consultationEnded
    /// The relay is shutting down: every moving camera is stopped before the connections close.
    case serverShutdown
}

/// What became of an audited message.
public enum CameraAuditOutcome: Sendable, Codable, Equatable {
    /// Sent to the cart under the server's command id.
    case forwarded(commandId: String)
    /// A continuous move held back by the rate limit; it is sent at the next slot unless a later
    /// move replaces it or a stop discards it (then it is never sent).
    case coalesced
    /// Refused with this error code (the participant received an `error`).
    case refused(ErrorCode)
    /// The relay sent `stop` to the cart itself (deadman), under this server command id.
    case deadmanStop(RelayStopCause, commandId: String)
    /// The cart acknowledged a command; forwarded to the controller when it is still in the room.
    case ack(CameraResult)
    /// An acknowledgement for a command id the relay does not know (never sent, or evicted from
    /// the bounded in-flight map); dropped.
    case ackDropped
    /// A floor operation or camera advertisement that took effect.
    case accepted
}

/// One line of the camera audit trail: who asked what of which camera, when, and what came of it.
public struct CameraAuditRecord: Sendable, Equatable, Codable {
    public var time: Instant
    /// The participant who sent the message; for relay stops, the controller whose motion was stopped.
    public var participantId: String
    /// The token subject of that participant (nil when unknown, e.g. not joined).
    public var subject: String?
    public var role: Role?
    public var cameraId: String?
    /// The command kind ("move", "stop", ...) or the message type for other messages
    /// ("cameras", "floorRequest", "floorRelease", "floorGrant", "floorRevoke", "cameraAck").
    public var kind: String
    /// The participant's command id (for commands and acks: the id as the sender wrote it).
    public var commandId: String?
    public var outcome: CameraAuditOutcome

    public init(time: Instant, participantId: String, subject: String?, role: Role?, cameraId: String?, kind: String,
                commandId: String?, outcome: CameraAuditOutcome) {
        self.time = time
        self.participantId = participantId
        self.subject = subject
        self.role = role
        self.cameraId = cameraId
        self.kind = kind
        self.commandId = commandId
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey {
        case timeNanoseconds, participantId, subject, role, cameraId, kind, commandId, outcome
    }

    // `Instant` is not Codable (RelaisWire stays free of Codable); it is stored as nanoseconds.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        time = Instant(nanoseconds: try c.decode(UInt64.self, forKey: .timeNanoseconds))
        participantId = try c.decode(String.self, forKey: .participantId)
        subject = try c.decodeIfPresent(String.self, forKey: .subject)
        role = try c.decodeIfPresent(Role.self, forKey: .role)
        cameraId = try c.decodeIfPresent(String.self, forKey: .cameraId)
        kind = try c.decode(String.self, forKey: .kind)
        commandId = try c.decodeIfPresent(String.self, forKey: .commandId)
        outcome = try c.decode(CameraAuditOutcome.self, forKey: .outcome)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(time.nanoseconds, forKey: .timeNanoseconds)
        try c.encode(participantId, forKey: .participantId)
        try c.encodeIfPresent(subject, forKey: .subject)
        try c.encodeIfPresent(role, forKey: .role)
        try c.encodeIfPresent(cameraId, forKey: .cameraId)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(commandId, forKey: .commandId)
        try c.encode(outcome, forKey: .outcome)
    }
}

/// A fixed-capacity ring of audit records: the newest `capacity` are kept.
struct AuditRing: Sendable {
    private var storage: [CameraAuditRecord] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    mutating func append(_ record: CameraAuditRecord) {
        guard capacity > 0 else { return }
        if storage.count < capacity {
            if storage.isEmpty { storage.reserveCapacity(min(capacity, 1024)) }
            storage.append(record)
        } else {
            storage[next] = record
        }
        next = (next + 1) % capacity
    }

    /// Oldest first.
    var records: [CameraAuditRecord] {
        storage.count < capacity ? storage : Array(storage[next...] + storage[..<next])
    }

    var count: Int { storage.count }
}
