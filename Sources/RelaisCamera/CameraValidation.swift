public import RelaisSignaling

/// Checks of camera advertisements and commands against the protocol's limits and the camera's
/// advertised capabilities. Pure functions: safe for any input (NaN, infinities, huge values).
public enum CameraValidation {
    /// Command ids and camera ids: 1...64 UTF-8 bytes.
    public static let maxIdentifierBytes = 64

    public static func isValidIdentifier(_ id: String) -> Bool {
        (1...maxIdentifierBytes).contains(id.utf8.count)
    }

    /// A command for a camera with these capabilities: `invalid_command` for bad values,
    /// `camera_unsupported` for what the camera did not advertise. Values are checked first, so a
    /// malformed command is `invalid_command` whatever the camera; presets on a camera without
    /// presets are `camera_unsupported`.
    public static func check(_ command: CameraCommand, against caps: CameraCapabilities) -> SignalingError? {
        switch command {
        case .move(let pan, let tilt, let zoom):
            // No array of axes here: this is the hot path of a joystick, keep it allocation-free.
            if let name = !isVelocity(pan) ? "pan" : !isVelocity(tilt) ? "tilt" : !isVelocity(zoom) ? "zoom" : nil {
                return SignalingError(.invalidCommand, "move: \(name) velocity must be a finite number in [-1, 1]")
            }
            if (pan != 0 || tilt != 0) && !caps.continuousPanTilt {
                return SignalingError(.cameraUnsupported, "this camera has no continuous pan/tilt")
            }
            if zoom != 0 && !caps.continuousZoom {
                return SignalingError(.cameraUnsupported, "this camera has no continuous zoom")
            }
            return nil
        case .stop, .home:
            return nil
        case .absolute(let pan, let tilt, let zoom):
            guard pan != nil || tilt != nil || zoom != nil else {
                return SignalingError(.invalidCommand, "absolute: needs at least one of pan, tilt, zoom")
            }
            for (name, value, range) in [("pan", pan, caps.pan), ("tilt", tilt, caps.tilt), ("zoom", zoom, caps.zoom)] {
                guard let value else { continue }
                guard value.isFinite, range.contains(value) else {
                    return SignalingError(.invalidCommand, "absolute: \(name) must be a finite number in [\(range.min), \(range.max)]")
                }
            }
            return caps.absolutePosition ? nil : SignalingError(.cameraUnsupported, "this camera has no absolute positioning")
        case .relative(let pan, let tilt, let zoom):
            guard pan != nil || tilt != nil || zoom != nil else {
                return SignalingError(.invalidCommand, "relative: needs at least one of pan, tilt, zoom")
            }
            for (name, value, range) in [("pan", pan, caps.pan), ("tilt", tilt, caps.tilt), ("zoom", zoom, caps.zoom)] {
                guard let value else { continue }
                let width = range.max - range.min
                guard value.isFinite, value.magnitude <= width else {
                    return SignalingError(.invalidCommand, "relative: \(name) must be a finite change of at most \(width)")
                }
            }
            return caps.relativePosition ? nil : SignalingError(.cameraUnsupported, "this camera has no relative positioning")
        case .focus(_, let position):
            if let position, !(position.isFinite && position >= 0 && position <= 1) {
                return SignalingError(.invalidCommand, "focus: position must be a finite number in [0, 1]")
            }
            return caps.focus ? nil : SignalingError(.cameraUnsupported, "this camera has no focus control")
        case .presetGoto(let preset), .presetSave(let preset):
            guard caps.presets > 0 else { return SignalingError(.cameraUnsupported, "this camera has no presets") }
            guard preset >= 0, preset < caps.presets else {
                return SignalingError(.invalidCommand, "\(command.kind): preset must be in 0...\(caps.presets - 1)")
            }
            return nil
        }
    }

    /// A camera advertisement entry: identifier, finite and ordered axis ranges, non-negative presets.
    public static func check(_ camera: CameraDescription) -> SignalingError? {
        guard isValidIdentifier(camera.cameraId) else {
            return SignalingError(.invalidCommand, "cameras: cameraId must be 1...\(maxIdentifierBytes) bytes")
        }
        let caps = camera.capabilities
        for (name, range) in [("pan", caps.pan), ("tilt", caps.tilt), ("zoom", caps.zoom)] {
            guard range.min.isFinite, range.max.isFinite, range.min <= range.max else {
                return SignalingError(.invalidCommand, "cameras: \(camera.cameraId) \(name) range must be finite with min <= max")
            }
        }
        guard caps.presets >= 0 else {
            return SignalingError(.invalidCommand, "cameras: \(camera.cameraId) presets must be >= 0")
        }
        return nil
    }

    private static func isVelocity(_ v: Double) -> Bool { v.isFinite && v >= -1 && v <= 1 }

    /// A move with every velocity zero: a stop.
    static func isStop(_ command: CameraCommand) -> Bool {
        switch command {
        case .stop: true
        case .move(let pan, let tilt, let zoom): pan == 0 && tilt == 0 && zoom == 0
        default: false
        }
    }

    /// A continuous move that sets the camera in motion.
    static func isMotion(_ command: CameraCommand) -> Bool {
        if case .move = command { return !isStop(command) }
        return false
    }
}
