// The operators' view of the relay: what the admin API serves (`AdminAPI/ADMIN.md`) and what
// `relais-monitor` reads. A leaf module of plain Codable values, so the monitor does not link the
// relay and the JSON contract lives in one place. Times are ISO 8601 with fractional seconds.
public import Foundation

/// `GET /v1/admin/sessions`: every live consultation.
public struct SessionList: Codable, Sendable, Equatable {
    public var generatedAt: Date
    public var sessions: [Session]

    public init(generatedAt: Date, sessions: [Session]) {
        self.generatedAt = generatedAt
        self.sessions = sessions
    }
}

/// One live consultation: a room from its first join until it empties (`GET /v1/admin/sessions/{id}`).
public struct Session: Codable, Sendable, Equatable {
    /// The consultation's id (unique over the server's history; `c-…`).
    public var id: String
    public var room: String
    public var startedAt: Date
    /// The media loop the room is pinned to.
    public var loop: Int
    public var participants: [Participant]
    public var cameras: [Camera]
    /// Recording state; nil while the relay has no recording feature.
    public var recording: String?

    public init(id: String, room: String, startedAt: Date, loop: Int, participants: [Participant], cameras: [Camera], recording: String? = nil) {
        self.id = id
        self.room = room
        self.startedAt = startedAt
        self.loop = loop
        self.participants = participants
        self.cameras = cameras
        self.recording = recording
    }
}

/// A participant and its two peer connections.
public struct Participant: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Signaling is open; media may still be connecting.
        case connected
        /// The WebSocket dropped; the resume window is open.
        case disconnected
    }

    public var id: String
    public var name: String
    public var role: String
    /// The user's stable identifier at the issuer (the token's `sub`).
    public var subject: String
    public var joinedAt: Date
    public var state: State
    /// The connection the participant publishes on (client offers), if any.
    public var publish: PeerConnection?
    /// The connection the participant receives on (relay offers), if any.
    public var subscribe: PeerConnection?

    public init(id: String, name: String, role: String, subject: String, joinedAt: Date, state: State, publish: PeerConnection? = nil, subscribe: PeerConnection? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.subject = subject
        self.joinedAt = joinedAt
        self.state = state
        self.publish = publish
        self.subscribe = subscribe
    }
}

/// One peer connection: ICE, DTLS and SRTP state, and its tracks.
public struct PeerConnection: Codable, Sendable, Equatable {
    /// `new` (no valid ICE check yet), `connecting` (ICE selected, DTLS running), `connected`, `closed`.
    public var state: String
    /// The selected candidate pair; nil before ICE selects one.
    public var selectedPair: CandidatePair?
    /// `new`, `connecting`, `connected`, `failed`, `closed`.
    public var dtlsState: String
    /// The SRTP protection profile DTLS negotiated (RFC 5764, RFC 7714).
    public var srtpProfile: String?
    public var packetsIn: Int
    public var packetsOut: Int
    public var bytesIn: Int
    public var bytesOut: Int
    /// Datagrams dropped (SRTP authentication failures, replays, malformed), by reason.
    public var drops: [String: Int]
    public var tracks: [TrackStats]
    /// Publish connections: the congestion feedback the relay sends the publisher.
    public var congestionFeedback: CongestionFeedback?

    public init(
        state: String, selectedPair: CandidatePair?, dtlsState: String, srtpProfile: String?, packetsIn: Int, packetsOut: Int, bytesIn: Int,
        bytesOut: Int, drops: [String: Int], tracks: [TrackStats], congestionFeedback: CongestionFeedback? = nil
    ) {
        self.state = state
        self.selectedPair = selectedPair
        self.dtlsState = dtlsState
        self.srtpProfile = srtpProfile
        self.packetsIn = packetsIn
        self.packetsOut = packetsOut
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.drops = drops
        self.tracks = tracks
        self.congestionFeedback = congestionFeedback
    }
}

/// What the relay tells a publisher about its uplink, for its congestion controller: the relay's
/// view of the cart's link.
public struct CongestionFeedback: Codable, Sendable, Equatable {
    /// Whether the publisher sends the transport-wide sequence number (and so gets TWCC feedback).
    public var transportWide: Bool
    /// Transport-wide feedback packets sent, and the packet arrivals they reported.
    public var feedbackPackets: Int
    public var packetsReported: Int
    /// The ceiling sent in REMB once a second, kbit/s; nil without one.
    public var rembKbps: Double?

    public init(transportWide: Bool, feedbackPackets: Int, packetsReported: Int, rembKbps: Double?) {
        self.transportWide = transportWide
        self.feedbackPackets = feedbackPackets
        self.packetsReported = packetsReported
        self.rembKbps = rembKbps
    }
}

public struct CandidatePair: Codable, Sendable, Equatable {
    /// The relay's address (`ip:port`, UDP host candidate).
    public var local: String
    /// The peer's address as the relay sees it.
    public var remote: String

    public init(local: String, remote: String) {
        self.local = local
        self.remote = remote
    }
}

/// Statistics of one media stream on a peer connection. `in` tracks are what a participant
/// publishes (measured by the relay as receiver); `out` tracks are what the relay forwards to a
/// subscriber (loss, jitter and round-trip time from the subscriber's receiver reports).
public struct TrackStats: Codable, Sendable, Equatable {
    public enum Direction: String, Codable, Sendable {
        case `in`, out
    }

    public var trackId: String
    public var kind: String
    public var direction: Direction
    public var ssrc: UInt32?
    /// For `out` tracks: the participant who publishes it.
    public var fromParticipant: String?
    /// Over the last measurement interval (about one second).
    public var bitrateKbps: Double
    public var packets: Int
    public var bytes: Int
    /// Cumulative packets lost (RFC 3550 §6.4.1).
    public var packetsLost: Int
    /// Fraction lost over the last report interval, 0...1.
    public var fractionLost: Double
    public var jitterMs: Double?
    public var roundTripMs: Double?
    /// NACKs: sent to the publisher (`in`) or received from the subscriber (`out`).
    public var nacks: Int
    /// Keyframe requests: sent to the publisher (`in`) or received from the subscriber (`out`).
    public var plis: Int
    /// Keyframes seen (`in`) or forwarded (`out`).
    public var keyframes: Int
    /// Video stalls: packets stopped for over 500 ms while the stream was live.
    public var freezes: Int
    /// `in` simulcast tracks: each layer the publisher sends, in its order.
    public var layers: [LayerStats]?
    /// `out` simulcast tracks: the RID of the layer forwarded now, and the layer switches so far.
    public var layer: String?
    public var layerSwitches: Int?

    public init(trackId: String, kind: String, direction: Direction, ssrc: UInt32?, fromParticipant: String? = nil, bitrateKbps: Double, packets: Int, bytes: Int, packetsLost: Int, fractionLost: Double, jitterMs: Double?, roundTripMs: Double?, nacks: Int, plis: Int, keyframes: Int, freezes: Int, layers: [LayerStats]? = nil, layer: String? = nil, layerSwitches: Int? = nil) {
        self.trackId = trackId
        self.kind = kind
        self.direction = direction
        self.ssrc = ssrc
        self.fromParticipant = fromParticipant
        self.bitrateKbps = bitrateKbps
        self.packets = packets
        self.bytes = bytes
        self.packetsLost = packetsLost
        self.fractionLost = fractionLost
        self.jitterMs = jitterMs
        self.roundTripMs = roundTripMs
        self.nacks = nacks
        self.plis = plis
        self.keyframes = keyframes
        self.freezes = freezes
        self.layers = layers
        self.layer = layer
        self.layerSwitches = layerSwitches
    }
}

/// One simulcast layer of a published video track, as the relay receives it.
public struct LayerStats: Codable, Sendable, Equatable {
    /// The layer's RTP stream id (RFC 8851).
    public var rid: String
    /// Learnt from the layer's first packets (the RID header extension); nil before.
    public var ssrc: UInt32?
    /// From the layer's last keyframe (VP8); nil before one, or for other codecs.
    public var width: Int?
    public var height: Int?
    /// Frames and decrypted RTP bitrate over the last interval of about one second.
    public var framesPerSecond: Double
    public var bitrateKbps: Double
    public var packets: Int
    public var keyframes: Int
    /// Subscribers receiving this layer now.
    public var subscribers: Int

    public init(rid: String, ssrc: UInt32?, width: Int?, height: Int?, framesPerSecond: Double, bitrateKbps: Double, packets: Int, keyframes: Int, subscribers: Int) {
        self.rid = rid
        self.ssrc = ssrc
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.bitrateKbps = bitrateKbps
        self.packets = packets
        self.keyframes = keyframes
        self.subscribers = subscribers
    }
}

/// A cart camera and who steers it.
public struct Camera: Codable, Sendable, Equatable {
    public var cameraId: String
    /// The cart that owns the camera.
    public var cart: String
    /// The participant holding the floor, if anyone.
    public var controller: String?
    public var moving: Bool

    public init(cameraId: String, cart: String, controller: String?, moving: Bool) {
        self.cameraId = cameraId
        self.cart = cart
        self.controller = controller
        self.moving = moving
    }
}

/// One live session event (`GET /v1/admin/events`, server-sent events; the SSE `event:` field is `type`).
public struct SessionEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case consultationStarted, consultationEnded
        case participantJoined, participantDisconnected, participantResumed, participantLeft
        case transportConnected, transportClosed
        case cameraFloor, cameraCommand
        case error
    }

    public var type: Kind
    public var at: Date
    public var consultation: String
    public var room: String
    public var participant: String?
    /// Free-form detail: a reason, an error code, a camera command and its result.
    public var detail: String?

    public init(type: Kind, at: Date, consultation: String, room: String, participant: String? = nil, detail: String? = nil) {
        self.type = type
        self.at = at
        self.consultation = consultation
        self.room = room
        self.participant = participant
        self.detail = detail
    }
}

/// `GET /v1/admin/history?since=…&room=…`: consultations that started since a time, newest first.
public struct HistoryList: Codable, Sendable, Equatable {
    public var since: Date
    public var consultations: [PastConsultation]

    public init(since: Date, consultations: [PastConsultation]) {
        self.since = since
        self.consultations = consultations
    }
}

public struct PastConsultation: Codable, Sendable, Equatable {
    public var id: String
    public var room: String
    public var startedAt: Date
    public var endedAt: Date?
    public var endReason: String?
    public var participants: [PastParticipant]

    public init(id: String, room: String, startedAt: Date, endedAt: Date?, endReason: String?, participants: [PastParticipant]) {
        self.id = id
        self.room = room
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.participants = participants
    }
}

public struct PastParticipant: Codable, Sendable, Equatable {
    public var participant: String
    public var subject: String
    public var name: String
    public var role: String
    public var joinedAt: Date
    public var leftAt: Date?
    public var leaveReason: String?

    public init(participant: String, subject: String, name: String, role: String, joinedAt: Date, leftAt: Date?, leaveReason: String?) {
        self.participant = participant
        self.subject = subject
        self.name = name
        self.role = role
        self.joinedAt = joinedAt
        self.leftAt = leftAt
        self.leaveReason = leaveReason
    }
}

/// `GET /v1/admin/audit?room=…&since=…`: camera commands and errors, oldest first.
public struct AuditList: Codable, Sendable, Equatable {
    public var since: Date
    public var room: String?
    public var entries: [AuditEntry]

    public init(since: Date, room: String?, entries: [AuditEntry]) {
        self.since = since
        self.room = room
        self.entries = entries
    }
}

public struct AuditEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case cameraCommand, error
    }

    public var kind: Kind
    public var at: Date
    public var room: String?
    public var consultation: String?
    public var participant: String?
    /// Camera commands: the command (`move`, `stop`, `preset`, `floorRequest`, …); errors: the code.
    public var action: String
    /// Camera commands: `accepted`, `coalesced`, `refused:<code>`, …; errors: empty.
    public var result: String
    public var camera: String?
    public var detail: String?

    public init(kind: Kind, at: Date, room: String?, consultation: String?, participant: String?, action: String, result: String, camera: String?, detail: String?) {
        self.kind = kind
        self.at = at
        self.room = room
        self.consultation = consultation
        self.participant = participant
        self.action = action
        self.result = result
        self.camera = camera
        self.detail = detail
    }
}

/// `DELETE /v1/admin/sessions/{id}` and `DELETE /v1/admin/participants/{id}`.
public struct ActionResult: Codable, Sendable, Equatable {
    public var ok: Bool
    public var consultation: String
    public var room: String
    /// Participants removed by the action.
    public var removed: [String]

    public init(ok: Bool, consultation: String, room: String, removed: [String]) {
        self.ok = ok
        self.consultation = consultation
        self.room = room
        self.removed = removed
    }
}

/// Every error body of the admin API: `{"error":{"code":…,"message":…}}`.
public struct AdminErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(code: String, message: String) {
        self.error = Detail(code: code, message: message)
    }
}

extension JSONEncoder {
    /// The admin API's encoding: ISO 8601 dates with milliseconds, sorted keys.
    public static var admin: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(AdminTime.format(date))
        }
        return encoder
    }
}

extension JSONDecoder {
    public static var admin: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = AdminTime.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time: \(text)")
            }
            return date
        }
        return decoder
    }
}

/// ISO 8601 with milliseconds, UTC (`2026-11-25T14:27:27.123Z`).
public enum AdminTime {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Accepts with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
