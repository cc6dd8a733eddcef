/// Stable error codes of the protocol. Clients switch on these; the text beside them may change.
public enum ErrorCode: String, Codable, Sendable, CaseIterable {
    case invalidJSON = "invalid_json"
    case unknownType = "unknown_type"
    case schemaViolation = "schema_violation"
    case messageTooLarge = "message_too_large"
    case rateLimited = "rate_limited"
    case invalidToken = "invalid_token"
    case tokenExpired = "token_expired"
    case wrongRoom = "wrong_room"
    case roomFull = "room_full"
    case notJoined = "not_joined"
    case alreadyJoined = "already_joined"
    case forbidden
    case invalidSDP = "invalid_sdp"
    case noCommonCodec = "no_common_codec"
    case staleRevision = "stale_revision"
    case resumeFailed = "resume_failed"
    /// No such camera in the room.
    case cameraUnknown = "camera_unknown"
    /// A camera command or floor operation from someone who may not (not the controller, an
    /// observer, a cart commanding another cart's camera).
    case notController = "not_controller"
    /// The camera's floor is held by someone else.
    case floorBusy = "floor_busy"
    /// A camera command with a wrong type, an out-of-range or non-finite value, or an unknown member.
    case invalidCommand = "invalid_command"
    /// The camera cannot do this (per its advertised capabilities).
    case cameraUnsupported = "camera_unsupported"
    /// `selectLayer` names a track the client does not receive, or a layer the track does not have.
    case unknownLayer = "unknown_layer"
    case `internal`

    /// Fatal errors end the connection: the server closes the WebSocket right after sending them.
    public var isFatal: Bool {
        switch self {
        case .messageTooLarge, .invalidToken, .tokenExpired, .wrongRoom, .roomFull, .resumeFailed: true
        default: false
        }
    }

    /// WebSocket close code (RFC 6455 §7.4.1) that follows a fatal error.
    public var closeCode: UInt16 {
        self == .messageTooLarge ? 1009 : 1008
    }
}

/// A refusal: what goes into an `error` message.
public struct SignalingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
