public import Foundation

/// A message the server sends to a client.
public enum ServerMessage: Sendable, Equatable {
    case joined(Joined)
    case resumed(Resumed)
    /// Publish answer (target `publish`).
    case answer(SessionDescriptionBody)
    /// Subscribe offer (target `subscribe`, with a revision).
    case offer(SessionDescriptionBody)
    case candidate(CandidateBody)
    case participantJoined(ParticipantJoined)
    case participantLeft(ParticipantLeft)
    case trackPublished(TrackPublished)
    case trackUnpublished(TrackUnpublished)
    case pong(RequestBody)
    case error(ErrorBody)
    case left(LeftBody)
    case camerasAvailable(CamerasAvailableBody)
    /// Who controls a camera (type `floor`).
    case floor(FloorStateBody)
    /// To the cart, cart-grants policy: a participant asks for a camera's floor.
    case floorRequested(FloorBody)
    /// To the cart: a command to execute.
    case cameraCommand(CameraCommandBody)
    /// To the controller: the cart's acknowledgement.
    case cameraAck(CameraAckBody)

    public var type: String {
        switch self {
        case .joined: "joined"
        case .resumed: "resumed"
        case .answer: "answer"
        case .offer: "offer"
        case .candidate: "candidate"
        case .participantJoined: "participantJoined"
        case .participantLeft: "participantLeft"
        case .trackPublished: "trackPublished"
        case .trackUnpublished: "trackUnpublished"
        case .pong: "pong"
        case .error: "error"
        case .left: "left"
        case .camerasAvailable: "camerasAvailable"
        case .floor: "floor"
        case .floorRequested: "floorRequested"
        case .cameraCommand: "cameraCommand"
        case .cameraAck: "cameraAck"
        }
    }

    /// The JSON text frame.
    public func encoded() -> String {
        switch self {
        case .joined(let m): Envelope.encode(type: type, body: m)
        case .resumed(let m): Envelope.encode(type: type, body: m)
        case .answer(let m), .offer(let m): Envelope.encode(type: type, body: m)
        case .candidate(let m): Envelope.encode(type: type, body: m)
        case .participantJoined(let m): Envelope.encode(type: type, body: m)
        case .participantLeft(let m): Envelope.encode(type: type, body: m)
        case .trackPublished(let m): Envelope.encode(type: type, body: m)
        case .trackUnpublished(let m): Envelope.encode(type: type, body: m)
        case .pong(let m): Envelope.encode(type: type, body: m)
        case .error(let m): Envelope.encode(type: type, body: m)
        case .left(let m): Envelope.encode(type: type, body: m)
        case .camerasAvailable(let m): Envelope.encode(type: type, body: m)
        case .floor(let m): Envelope.encode(type: type, body: m)
        case .floorRequested(let m): Envelope.encode(type: type, body: m)
        case .cameraCommand(let m): Envelope.encode(type: type, body: m)
        case .cameraAck(let m): Envelope.encode(type: type, body: m)
        }
    }

    /// Parses a server frame (for clients: relais-client, tests).
    public static func decode(_ data: Data) throws(SignalingError) -> ServerMessage {
        let type = try Envelope.type(of: data)
        switch type {
        case "joined": return .joined(try Envelope.decode(Joined.self, type: type, from: data))
        case "resumed": return .resumed(try Envelope.decode(Resumed.self, type: type, from: data))
        case "answer": return .answer(try Envelope.decode(SessionDescriptionBody.self, type: type, from: data))
        case "offer": return .offer(try Envelope.decode(SessionDescriptionBody.self, type: type, from: data))
        case "candidate": return .candidate(try Envelope.decode(CandidateBody.self, type: type, from: data))
        case "participantJoined": return .participantJoined(try Envelope.decode(ParticipantJoined.self, type: type, from: data))
        case "participantLeft": return .participantLeft(try Envelope.decode(ParticipantLeft.self, type: type, from: data))
        case "trackPublished": return .trackPublished(try Envelope.decode(TrackPublished.self, type: type, from: data))
        case "trackUnpublished": return .trackUnpublished(try Envelope.decode(TrackUnpublished.self, type: type, from: data))
        case "pong": return .pong(try Envelope.decode(RequestBody.self, type: type, from: data))
        case "error": return .error(try Envelope.decode(ErrorBody.self, type: type, from: data))
        case "left": return .left(try Envelope.decode(LeftBody.self, type: type, from: data))
        case "camerasAvailable": return .camerasAvailable(try Envelope.decode(CamerasAvailableBody.self, type: type, from: data))
        case "floor": return .floor(try Envelope.decode(FloorStateBody.self, type: type, from: data))
        case "floorRequested": return .floorRequested(try Envelope.decode(FloorBody.self, type: type, from: data))
        case "cameraCommand": return .cameraCommand(try Envelope.decode(CameraCommandBody.self, type: type, from: data))
        case "cameraAck": return .cameraAck(try Envelope.decode(CameraAckBody.self, type: type, from: data))
        default: throw SignalingError(.unknownType, "unknown server message type \"\(type.prefix(64))\"")
        }
    }

    public static func decode(_ text: String) throws(SignalingError) -> ServerMessage {
        try decode(Data(text.utf8))
    }
}
