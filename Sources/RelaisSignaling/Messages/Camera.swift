/// Remote camera control (Signaling/PROTOCOL.md §"Camera control"): the cart advertises its
/// cameras, an expert takes a camera's control floor, and its commands reach the cart through
/// the relay, which validates, authorizes, coalesces, times out and audits them.

/// A closed range of a camera axis, in the axis' unit (pan and tilt in degrees, zoom as a
/// magnification factor, focus 0...1).
public struct AxisRange: Codable, Sendable, Equatable {
    public var min: Double
    public var max: Double
    public init(min: Double, max: Double) {
        self.min = min
        self.max = max
    }
    public func contains(_ value: Double) -> Bool { value >= min && value <= max }
}

/// What a camera can do; commands it cannot do are refused with `camera_unsupported`.
public struct CameraCapabilities: Codable, Sendable, Equatable {
    public var continuousPanTilt: Bool
    public var continuousZoom: Bool
    public var absolutePosition: Bool
    public var relativePosition: Bool
    public var focus: Bool
    /// Number of preset slots (0...presets-1); 0 when the camera has none.
    public var presets: Int
    public var pan: AxisRange
    public var tilt: AxisRange
    public var zoom: AxisRange

    public init(continuousPanTilt: Bool, continuousZoom: Bool, absolutePosition: Bool, relativePosition: Bool, focus: Bool,
                presets: Int, pan: AxisRange, tilt: AxisRange, zoom: AxisRange) {
        self.continuousPanTilt = continuousPanTilt
        self.continuousZoom = continuousZoom
        self.absolutePosition = absolutePosition
        self.relativePosition = relativePosition
        self.focus = focus
        self.presets = presets
        self.pan = pan
        self.tilt = tilt
        self.zoom = zoom
    }
}

public struct CameraDescription: Codable, Sendable, Equatable {
    /// Unique within the cart (e.g. "main").
    public var cameraId: String
    public var name: String
    public var capabilities: CameraCapabilities

    public init(cameraId: String, name: String, capabilities: CameraCapabilities) {
        self.cameraId = cameraId
        self.name = name
        self.capabilities = capabilities
    }
}

public struct CameraPosition: Codable, Sendable, Equatable {
    public var pan: Double
    public var tilt: Double
    public var zoom: Double
    public init(pan: Double, tilt: Double, zoom: Double) {
        self.pan = pan
        self.tilt = tilt
        self.zoom = zoom
    }
}

public enum FocusMode: String, Codable, Sendable {
    case auto, manual
}

/// One camera command. On the wire an object with `kind` and the kind's members only (unknown
/// members are refused: a command that moves a camera next to a patient is not guessed at).
public enum CameraCommand: Sendable, Equatable {
    /// Continuous move: velocities in [-1, 1] (fraction of the camera's top speed); the
    /// controller refreshes it at least every 500 ms or the relay stops the camera.
    case move(pan: Double, tilt: Double, zoom: Double)
    case stop
    /// Absolute position; absent axes stay where they are.
    case absolute(pan: Double?, tilt: Double?, zoom: Double?)
    /// Relative position change; absent axes stay where they are.
    case relative(pan: Double?, tilt: Double?, zoom: Double?)
    case focus(mode: FocusMode, position: Double?)
    case presetGoto(preset: Int)
    case presetSave(preset: Int)
    case home

    public var kind: String {
        switch self {
        case .move: "move"
        case .stop: "stop"
        case .absolute: "absolute"
        case .relative: "relative"
        case .focus: "focus"
        case .presetGoto: "presetGoto"
        case .presetSave: "presetSave"
        case .home: "home"
        }
    }
}

extension CameraCommand: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, pan, tilt, zoom, mode, position, preset
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        let allowed: Set<String>
        switch kind {
        case "move":
            self = .move(pan: try container.decode(Double.self, forKey: .pan), tilt: try container.decode(Double.self, forKey: .tilt),
                         zoom: try container.decode(Double.self, forKey: .zoom))
            allowed = ["kind", "pan", "tilt", "zoom"]
        case "stop":
            self = .stop
            allowed = ["kind"]
        case "absolute", "relative":
            let pan = try container.decodeIfPresent(Double.self, forKey: .pan)
            let tilt = try container.decodeIfPresent(Double.self, forKey: .tilt)
            let zoom = try container.decodeIfPresent(Double.self, forKey: .zoom)
            guard pan != nil || tilt != nil || zoom != nil else {
                throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "\(kind) needs at least one of pan, tilt, zoom")
            }
            self = kind == "absolute" ? .absolute(pan: pan, tilt: tilt, zoom: zoom) : .relative(pan: pan, tilt: tilt, zoom: zoom)
            allowed = ["kind", "pan", "tilt", "zoom"]
        case "focus":
            self = .focus(mode: try container.decode(FocusMode.self, forKey: .mode), position: try container.decodeIfPresent(Double.self, forKey: .position))
            allowed = ["kind", "mode", "position"]
        case "presetGoto":
            self = .presetGoto(preset: try container.decode(Int.self, forKey: .preset))
            allowed = ["kind", "preset"]
        case "presetSave":
            self = .presetSave(preset: try container.decode(Int.self, forKey: .preset))
            allowed = ["kind", "preset"]
        case "home":
            self = .home
            allowed = ["kind"]
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown command kind \"\(kind.prefix(32))\"")
        }
        let present = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        if let unknown = present.first(where: { !allowed.contains($0) }) {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "\(kind) has no member \"\(unknown.prefix(32))\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case .move(let pan, let tilt, let zoom):
            try container.encode(pan, forKey: .pan)
            try container.encode(tilt, forKey: .tilt)
            try container.encode(zoom, forKey: .zoom)
        case .stop, .home:
            break
        case .absolute(let pan, let tilt, let zoom), .relative(let pan, let tilt, let zoom):
            try container.encodeIfPresent(pan, forKey: .pan)
            try container.encodeIfPresent(tilt, forKey: .tilt)
            try container.encodeIfPresent(zoom, forKey: .zoom)
        case .focus(let mode, let position):
            try container.encode(mode, forKey: .mode)
            try container.encodeIfPresent(position, forKey: .position)
        case .presetGoto(let preset), .presetSave(let preset):
            try container.encode(preset, forKey: .preset)
        }
    }
}

/// The outcome the cart reports for a command.
public enum CameraResult: String, Codable, Sendable {
    case ok, failed, unsupported
}

// MARK: Message bodies

/// Cart -> server: the cart's cameras (replaces any earlier list).
public struct CamerasBody: Codable, Sendable, Equatable {
    public var requestId: String?
    public var cameras: [CameraDescription]
    public init(requestId: String? = nil, cameras: [CameraDescription]) {
        self.requestId = requestId
        self.cameras = cameras
    }
}

/// Server -> others: a cart's cameras (on advertisement, and to each participant joining later).
public struct CamerasAvailableBody: Codable, Sendable, Equatable {
    public var participantId: String
    public var cameras: [CameraDescription]
    public init(participantId: String, cameras: [CameraDescription]) {
        self.participantId = participantId
        self.cameras = cameras
    }
}

/// Client -> server floor operations on one camera: request, release (controller), grant and
/// revoke (the cart owning the camera; grant names the participant).
public struct FloorBody: Codable, Sendable, Equatable {
    public var requestId: String?
    public var cameraId: String
    public var participantId: String?
    public init(requestId: String? = nil, cameraId: String, participantId: String? = nil) {
        self.requestId = requestId
        self.cameraId = cameraId
        self.participantId = participantId
    }
}

/// Server -> everyone in the room: who controls a camera now, and who waits for it.
public struct FloorStateBody: Codable, Sendable, Equatable {
    public var cameraId: String
    /// The cart owning the camera.
    public var cartId: String
    public var controller: String?
    public var requested: [String]
    public init(cameraId: String, cartId: String, controller: String?, requested: [String]) {
        self.cameraId = cameraId
        self.cartId = cartId
        self.controller = controller
        self.requested = requested
    }

    enum CodingKeys: String, CodingKey { case cameraId, cartId, controller, requested }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cameraId, forKey: .cameraId)
        try container.encode(cartId, forKey: .cartId)
        try container.encode(controller, forKey: .controller)  // null when free, not omitted
        try container.encode(requested, forKey: .requested)
    }
}

/// A command: expert -> server (commandId chosen by the expert), server -> cart (commandId chosen
/// by the server, `from` naming the controller).
public struct CameraCommandBody: Codable, Sendable, Equatable {
    public var requestId: String?
    public var cameraId: String
    public var commandId: String
    public var command: CameraCommand
    public var from: String?
    public init(requestId: String? = nil, cameraId: String, commandId: String, command: CameraCommand, from: String? = nil) {
        self.requestId = requestId
        self.cameraId = cameraId
        self.commandId = commandId
        self.command = command
        self.from = from
    }
}

/// The cart's acknowledgement: cart -> server (the server's commandId), server -> controller
/// (the controller's own commandId).
public struct CameraAckBody: Codable, Sendable, Equatable {
    public var cameraId: String
    public var commandId: String
    public var result: CameraResult
    public var position: CameraPosition?
    public var message: String?
    public init(cameraId: String, commandId: String, result: CameraResult, position: CameraPosition? = nil, message: String? = nil) {
        self.cameraId = cameraId
        self.commandId = commandId
        self.result = result
        self.position = position
        self.message = message
    }
}
