/// Message bodies: every member of a message except `type`, which the enums in
/// ClientMessage.swift and ServerMessage.swift add and dispatch on.

public struct Join: Codable, Sendable, Equatable {
    public var requestId: String?
    public var room: String
    public var token: String

    public init(requestId: String? = nil, room: String, token: String) {
        self.requestId = requestId
        self.room = room
        self.token = token
    }
}

public struct Resume: Codable, Sendable, Equatable {
    public var requestId: String?
    public var resumeToken: String
    /// Ask the relay to restart ICE on the subscribe connection (the client's network changed).
    /// The publish connection is restarted by the client, with a re-offer.
    public var restartIce: Bool?

    public init(requestId: String? = nil, resumeToken: String, restartIce: Bool? = nil) {
        self.requestId = requestId
        self.resumeToken = resumeToken
        self.restartIce = restartIce
    }
}

/// An SDP offer or answer (JSEP, RFC 8829) for one of the two peer connections. `revision`
/// numbers the server's subscribe offers, so an answer is matched to the offer it answers.
public struct SessionDescriptionBody: Codable, Sendable, Equatable {
    public var requestId: String?
    public var target: PeerConnectionTarget
    public var revision: Int?
    public var sdp: String

    public init(requestId: String? = nil, target: PeerConnectionTarget, revision: Int? = nil, sdp: String) {
        self.requestId = requestId
        self.target = target
        self.revision = revision
        self.sdp = sdp
    }
}

/// A trickled ICE candidate; `candidate == nil` is end-of-candidates (RFC 8838 §4.4).
public struct CandidateBody: Codable, Sendable, Equatable {
    public var target: PeerConnectionTarget
    public var candidate: CandidateInit?

    public init(target: PeerConnectionTarget, candidate: CandidateInit?) {
        self.target = target
        self.candidate = candidate
    }

    enum CodingKeys: String, CodingKey { case target, candidate }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        target = try container.decode(PeerConnectionTarget.self, forKey: .target)
        // Required but nullable: a missing member is an error, an explicit null is end-of-candidates.
        guard container.contains(.candidate) else {
            throw DecodingError.keyNotFound(CodingKeys.candidate, .init(codingPath: [], debugDescription: "candidate is required (null ends candidates)"))
        }
        candidate = try container.decodeIfPresent(CandidateInit.self, forKey: .candidate)
        if candidate?.candidate.isEmpty == true { candidate = nil }  // "" also ends candidates
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(target, forKey: .target)
        try container.encode(candidate, forKey: .candidate)  // null, not omitted
    }
}

/// A body with only an optional request id: ping, pong, leave.
public struct RequestBody: Codable, Sendable, Equatable {
    public var requestId: String?

    public init(requestId: String? = nil) {
        self.requestId = requestId
    }
}

public struct Joined: Codable, Sendable, Equatable {
    public var requestId: String?
    public var participantId: String
    public var room: String
    public var role: Role
    public var displayName: String
    public var resumeToken: String
    public var resumeWindowSeconds: Double
    public var participants: [Participant]
    public var tracks: [Track]
    public var limits: SignalingLimits

    public init(
        requestId: String?, participantId: String, room: String, role: Role, displayName: String,
        resumeToken: String, resumeWindowSeconds: Double, participants: [Participant], tracks: [Track], limits: SignalingLimits
    ) {
        self.requestId = requestId
        self.participantId = participantId
        self.room = room
        self.role = role
        self.displayName = displayName
        self.resumeToken = resumeToken
        self.resumeWindowSeconds = resumeWindowSeconds
        self.participants = participants
        self.tracks = tracks
        self.limits = limits
    }
}

public struct Resumed: Codable, Sendable, Equatable {
    public var requestId: String?
    public var participantId: String
    public var room: String
    public var resumeToken: String
    public var participants: [Participant]
    public var tracks: [Track]

    public init(requestId: String?, participantId: String, room: String, resumeToken: String, participants: [Participant], tracks: [Track]) {
        self.requestId = requestId
        self.participantId = participantId
        self.room = room
        self.resumeToken = resumeToken
        self.participants = participants
        self.tracks = tracks
    }
}

public struct ParticipantJoined: Codable, Sendable, Equatable {
    public var participant: Participant
    public init(participant: Participant) { self.participant = participant }
}

public struct ParticipantLeft: Codable, Sendable, Equatable {
    public var participantId: String
    public var reason: ParticipantLeftReason
    public init(participantId: String, reason: ParticipantLeftReason) {
        self.participantId = participantId
        self.reason = reason
    }
}

public struct TrackPublished: Codable, Sendable, Equatable {
    public var track: Track
    public init(track: Track) { self.track = track }
}

public struct TrackUnpublished: Codable, Sendable, Equatable {
    public var trackId: String
    public var participantId: String
    public init(trackId: String, participantId: String) {
        self.trackId = trackId
        self.participantId = participantId
    }
}

public struct ErrorBody: Codable, Sendable, Equatable {
    public var requestId: String?
    public var code: ErrorCode
    public var message: String
    public var fatal: Bool

    public init(requestId: String? = nil, error: SignalingError) {
        self.requestId = requestId
        self.code = error.code
        self.message = error.message
        self.fatal = error.code.isFatal
    }
}

public struct LeftBody: Codable, Sendable, Equatable {
    public var requestId: String?
    public var reason: LeftReason
    public init(requestId: String? = nil, reason: LeftReason) {
        self.requestId = requestId
        self.reason = reason
    }
}

/// A subscriber chooses the simulcast layer it receives of a track (`rid`), or gives the choice
/// back to the relay (`rid` null). The key is required, its value nullable.
public struct SelectLayerBody: Codable, Sendable, Equatable {
    public var requestId: String?
    public var trackId: String
    public var rid: String?

    public init(requestId: String? = nil, trackId: String, rid: String?) {
        self.requestId = requestId
        self.trackId = trackId
        self.rid = rid
    }

    enum CodingKeys: String, CodingKey { case requestId, trackId, rid }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requestId = try container.decodeIfPresent(String.self, forKey: .requestId)
        trackId = try container.decode(String.self, forKey: .trackId)
        guard container.contains(.rid) else {
            throw DecodingError.keyNotFound(CodingKeys.rid, .init(codingPath: container.codingPath, debugDescription: "rid is required (null for the relay's choice)"))
        }
        rid = try container.decodeIfPresent(String.self, forKey: .rid)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(requestId, forKey: .requestId)
        try container.encode(trackId, forKey: .trackId)
        try container.encode(rid, forKey: .rid)
    }
}
