public import Foundation

/// A message a client (cart, expert, observer) sends to the server.
public enum ClientMessage: Sendable, Equatable {
    case join(Join)
    case resume(Resume)
    /// Publish offer (target `publish`).
    case offer(SessionDescriptionBody)
    /// Answer to a subscribe offer (target `subscribe`, with its revision).
    case answer(SessionDescriptionBody)
    case candidate(CandidateBody)
    case ping(RequestBody)
    case leave(RequestBody)
    /// A cart advertises its cameras.
    case cameras(CamerasBody)
    case floorRequest(FloorBody)
    case floorRelease(FloorBody)
    /// The cart grants a camera's floor to a participant (cart-grants policy).
    case floorGrant(FloorBody)
    /// The cart takes the floor back from the controller.
    case floorRevoke(FloorBody)
    case cameraCommand(CameraCommandBody)
    /// The cart acknowledges a command it executed.
    case cameraAck(CameraAckBody)
    /// A subscriber chooses a simulcast layer of a track.
    case selectLayer(SelectLayerBody)

    public var type: String {
        switch self {
        case .join: "join"
        case .resume: "resume"
        case .offer: "offer"
        case .answer: "answer"
        case .candidate: "candidate"
        case .ping: "ping"
        case .leave: "leave"
        case .cameras: "cameras"
        case .floorRequest: "floorRequest"
        case .floorRelease: "floorRelease"
        case .floorGrant: "floorGrant"
        case .floorRevoke: "floorRevoke"
        case .cameraCommand: "cameraCommand"
        case .cameraAck: "cameraAck"
        case .selectLayer: "selectLayer"
        }
    }

    public var requestId: String? {
        switch self {
        case .join(let m): m.requestId
        case .resume(let m): m.requestId
        case .offer(let m), .answer(let m): m.requestId
        case .candidate: nil
        case .ping(let m), .leave(let m): m.requestId
        case .cameras(let m): m.requestId
        case .floorRequest(let m), .floorRelease(let m), .floorGrant(let m), .floorRevoke(let m): m.requestId
        case .cameraCommand(let m): m.requestId
        case .cameraAck: nil
        case .selectLayer(let m): m.requestId
        }
    }

    /// Parses one text frame. Hostile input gets a typed refusal, never a trap: `invalid_json`,
    /// `unknown_type` or `schema_violation`.
    public static func decode(_ data: Data) throws(SignalingError) -> ClientMessage {
        let type = try Envelope.type(of: data)
        let message: ClientMessage
        switch type {
        case "join":
            let join = try Envelope.decode(Join.self, type: type, from: data)
            try Constraint.room(join.room)
            message = .join(join)
        case "resume":
            message = .resume(try Envelope.decode(Resume.self, type: type, from: data))
        case "offer":
            let offer = try Envelope.decode(SessionDescriptionBody.self, type: type, from: data)
            guard offer.target == .publish else {
                throw SignalingError(.schemaViolation, "offer: clients offer on target \"publish\" only")
            }
            try Constraint.sdp(offer.sdp)
            message = .offer(offer)
        case "answer":
            let answer = try Envelope.decode(SessionDescriptionBody.self, type: type, from: data)
            guard answer.target == .subscribe else {
                throw SignalingError(.schemaViolation, "answer: clients answer on target \"subscribe\" only")
            }
            guard let revision = answer.revision, revision >= 1 else {
                throw SignalingError(.schemaViolation, "answer: revision (integer >= 1) is required")
            }
            try Constraint.sdp(answer.sdp)
            message = .answer(answer)
        case "candidate":
            message = .candidate(try Envelope.decode(CandidateBody.self, type: type, from: data))
        case "ping":
            message = .ping(try Envelope.decode(RequestBody.self, type: type, from: data))
        case "leave":
            message = .leave(try Envelope.decode(RequestBody.self, type: type, from: data))
        case "cameras":
            message = .cameras(try Envelope.decode(CamerasBody.self, type: type, from: data))
        case "floorRequest":
            message = .floorRequest(try Envelope.decode(FloorBody.self, type: type, from: data))
        case "floorRelease":
            message = .floorRelease(try Envelope.decode(FloorBody.self, type: type, from: data))
        case "floorGrant":
            let grant = try Envelope.decode(FloorBody.self, type: type, from: data)
            guard grant.participantId != nil else { throw SignalingError(.schemaViolation, "floorGrant: participantId is required") }
            message = .floorGrant(grant)
        case "floorRevoke":
            message = .floorRevoke(try Envelope.decode(FloorBody.self, type: type, from: data))
        case "cameraCommand":
            // A malformed command is `invalid_command`, so a control UI can tell it from framing errors.
            do {
                message = .cameraCommand(try Envelope.decode(CameraCommandBody.self, type: type, from: data))
            } catch {
                throw SignalingError(.invalidCommand, error.message)
            }
        case "cameraAck":
            message = .cameraAck(try Envelope.decode(CameraAckBody.self, type: type, from: data))
        case "selectLayer":
            let select = try Envelope.decode(SelectLayerBody.self, type: type, from: data)
            guard !select.trackId.isEmpty else { throw SignalingError(.schemaViolation, "selectLayer: trackId must not be empty") }
            try Constraint.rid(select.rid)
            message = .selectLayer(select)
        default:
            throw SignalingError(.unknownType, "unknown message type \"\(type.prefix(64))\"")
        }
        try Constraint.requestId(message.requestId)
        return message
    }

    /// The `requestId` of a frame that failed to decode, when it has a usable one, so the error
    /// still reaches the request that caused it.
    public static func requestId(inUndecodable data: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let id = object["requestId"] as? String, (1...64).contains(id.utf8.count) else { return nil }
        return id
    }

    public static func decode(_ text: String) throws(SignalingError) -> ClientMessage {
        try decode(Data(text.utf8))
    }

    /// The JSON text frame.
    public func encoded() -> String {
        switch self {
        case .join(let m): Envelope.encode(type: type, body: m)
        case .resume(let m): Envelope.encode(type: type, body: m)
        case .offer(let m), .answer(let m): Envelope.encode(type: type, body: m)
        case .candidate(let m): Envelope.encode(type: type, body: m)
        case .ping(let m), .leave(let m): Envelope.encode(type: type, body: m)
        case .cameras(let m): Envelope.encode(type: type, body: m)
        case .floorRequest(let m), .floorRelease(let m), .floorGrant(let m), .floorRevoke(let m): Envelope.encode(type: type, body: m)
        case .cameraCommand(let m): Envelope.encode(type: type, body: m)
        case .cameraAck(let m): Envelope.encode(type: type, body: m)
        case .selectLayer(let m): Envelope.encode(type: type, body: m)
        }
    }
}
