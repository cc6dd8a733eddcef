/// Shared vocabulary of the signaling protocol (Signaling/PROTOCOL.md, `common.schema.json`).

/// What a participant may do in a room; carried in its token.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// The hospital cart at the patient's side: publishes camera and microphone, executes camera commands.
    case cart
    /// A remote specialist: publishes and subscribes, may steer the cart's camera.
    case expert
    /// Subscribes only (a trainee, a second opinion listening in).
    case observer

    public var mayPublish: Bool { self != .observer }
}

/// Which of a participant's two peer connections a message is about.
public enum PeerConnectionTarget: String, Codable, Sendable {
    /// Client offers, server answers; media flows client to server.
    case publish
    /// Server offers, client answers; media flows server to client.
    case subscribe
}

public struct Participant: Codable, Sendable, Equatable {
    public var participantId: String
    public var displayName: String
    public var role: Role

    public init(participantId: String, displayName: String, role: Role) {
        self.participantId = participantId
        self.displayName = displayName
        self.role = role
    }
}

public enum MediaKind: String, Codable, Sendable {
    case audio, video
}

public struct Track: Codable, Sendable, Equatable {
    public var trackId: String
    public var participantId: String
    public var kind: MediaKind
    /// Encoding name as in SDP: "opus", "VP8", "H264", "VP9".
    public var codec: String
    /// Simulcast layers by RID, in the publisher's order; absent for a single-stream track.
    public var layers: [String]?

    public init(trackId: String, participantId: String, kind: MediaKind, codec: String, layers: [String]? = nil) {
        self.trackId = trackId
        self.participantId = participantId
        self.kind = kind
        self.codec = codec
        self.layers = layers
    }
}

/// An ICE candidate as RTCIceCandidateInit carries it (W3C WebRTC §4.8.1), so browser glue can
/// pass `event.candidate.toJSON()` straight through.
public struct CandidateInit: Codable, Sendable, Equatable {
    public var candidate: String
    public var sdpMid: String?
    public var sdpMLineIndex: Int?
    public var usernameFragment: String?

    public init(candidate: String, sdpMid: String? = nil, sdpMLineIndex: Int? = nil, usernameFragment: String? = nil) {
        self.candidate = candidate
        self.sdpMid = sdpMid
        self.sdpMLineIndex = sdpMLineIndex
        self.usernameFragment = usernameFragment
    }
}

/// Why a participant is no longer in the room.
public enum ParticipantLeftReason: String, Codable, Sendable {
    case left, disconnected, removed, shutdown
    /// An operator ended the consultation (everyone goes; admin API).
    case ended
}

/// Why the server is closing this connection normally.
public enum LeftReason: String, Codable, Sendable {
    case requested, shutdown, replaced
    /// An operator removed this participant (admin API).
    case removed
    /// An operator ended the consultation (admin API).
    case ended
}

/// Limits the server enforces on a connection, announced in `joined`.
public struct SignalingLimits: Codable, Sendable, Equatable {
    public var maxMessageBytes: Int
    public var messagesPerSecond: Int
    public var maxParticipants: Int

    public init(maxMessageBytes: Int = 65_536, messagesPerSecond: Int = 20, maxParticipants: Int = 16) {
        self.maxMessageBytes = maxMessageBytes
        self.messagesPerSecond = messagesPerSecond
        self.maxParticipants = maxParticipants
    }
}
