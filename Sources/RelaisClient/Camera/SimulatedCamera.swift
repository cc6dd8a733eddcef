public import RelaisSignaling
public import RelaisWire

/// The sans-IO core of a simulated PTZ camera: a deterministic function of the commands it is
/// given and the explicit times it is given them at.
///
/// - Continuous moves (`move`) set velocities (fractions of the axes' top speeds, clamped to
///   [-1, 1]); the position integrates them over time and is clamped to the axis ranges (an axis
///   pushed against its limit stays there and no longer counts as moving).
/// - `stop` zeroes the velocities and cancels any positioning: the position is then frozen.
/// - Positioning commands (`absolute`, `relative`, `presetGoto`, `home`) either jump to the
///   target (`Positioning.instant`, the default, so an acknowledgement already reports where the
///   camera ends up and end-to-end tests need no waiting), or travel there with every axis at its
///   own top speed (`Positioning.travel`; a `stop` or `move` on the way cancels it where it is).
///   They cancel continuous motion.
/// - `absolute` outside the ranges fails; `relative` is clamped to the ranges.
/// - Presets are slots `0..<presets`; recalling an empty or out-of-range slot fails; saving
///   stores the current position.
/// - `home` is `Configuration.home` (0°, 0°, 1x by default).
/// - Focus mode and the manual focus position (0...1) are state only.
/// - Time going backwards is treated as no time passing.
public struct PTZSimulation: Sendable {
    public enum Positioning: Sendable, Equatable {
        case instant
        case travel
    }

    public struct Configuration: Sendable, Equatable {
        public var pan: AxisRange
        public var tilt: AxisRange
        public var zoom: AxisRange
        /// Top speeds: degrees per second for pan and tilt, magnification per second for zoom.
        public var panSpeed: Double
        public var tiltSpeed: Double
        public var zoomSpeed: Double
        public var presets: Int
        public var positioning: Positioning
        public var home: CameraPosition

        public init(pan: AxisRange = AxisRange(min: -170, max: 170), tilt: AxisRange = AxisRange(min: -30, max: 90),
                    zoom: AxisRange = AxisRange(min: 1, max: 12), panSpeed: Double = 100, tiltSpeed: Double = 60,
                    zoomSpeed: Double = 4, presets: Int = 8, positioning: Positioning = .instant,
                    home: CameraPosition = CameraPosition(pan: 0, tilt: 0, zoom: 1)) {
            self.pan = pan
            self.tilt = tilt
            self.zoom = zoom
            self.panSpeed = panSpeed
            self.tiltSpeed = tiltSpeed
            self.zoomSpeed = zoomSpeed
            self.presets = max(0, presets)
            self.positioning = positioning
            self.home = home
        }
    }

    /// Commanded velocities, fractions of the top speeds in [-1, 1].
    public struct Velocity: Sendable, Equatable {
        public var pan: Double
        public var tilt: Double
        public var zoom: Double
        public static let zero = Velocity(pan: 0, tilt: 0, zoom: 0)
        public init(pan: Double, tilt: Double, zoom: Double) {
            self.pan = pan
            self.tilt = tilt
            self.zoom = zoom
        }
    }

    public let configuration: Configuration
    /// The position at `updated`.
    public private(set) var position: CameraPosition
    public private(set) var updated: Instant
    public private(set) var velocity: Velocity = .zero
    /// Where a `travel` positioning is heading; nil when none is under way.
    public private(set) var target: CameraPosition?
    public private(set) var presets: [CameraPosition?]
    public private(set) var focusMode: FocusMode = .auto
    /// Manual focus position in 0...1.
    public private(set) var focusPosition: Double = 0

    public init(configuration: Configuration = Configuration(), now: Instant) {
        self.configuration = configuration
        self.position = configuration.home
        self.updated = now
        self.presets = Array(repeating: nil, count: configuration.presets)
        self.position = clamped(configuration.home)
    }

    /// What a camera driven by this simulation advertises.
    public func capabilities() -> CameraCapabilities {
        CameraCapabilities(continuousPanTilt: true, continuousZoom: true, absolutePosition: true, relativePosition: true,
                           focus: true, presets: configuration.presets,
                           pan: configuration.pan, tilt: configuration.tilt, zoom: configuration.zoom)
    }

    /// Whether the camera is moving as of `updated` (call `advance(to:)` first): an axis with a
    /// velocity that is not pinned against its limit, or a positioning under way.
    public var isMoving: Bool {
        if target != nil { return true }
        return Self.moves(position.pan, velocity.pan, configuration.pan)
            || Self.moves(position.tilt, velocity.tilt, configuration.tilt)
            || Self.moves(position.zoom, velocity.zoom, configuration.zoom)
    }

    private static func moves(_ value: Double, _ velocity: Double, _ range: AxisRange) -> Bool {
        (velocity > 0 && value < range.max) || (velocity < 0 && value > range.min)
    }

    /// Integrates motion up to `now`.
    public mutating func advance(to now: Instant) {
        guard now > updated else { return }
        let seconds = Double(now.nanoseconds - updated.nanoseconds) / 1e9
        updated = now
        if let target {
            position.pan = Self.step(position.pan, toward: target.pan, by: configuration.panSpeed * seconds)
            position.tilt = Self.step(position.tilt, toward: target.tilt, by: configuration.tiltSpeed * seconds)
            position.zoom = Self.step(position.zoom, toward: target.zoom, by: configuration.zoomSpeed * seconds)
            if position == target { self.target = nil }
        } else if velocity != .zero {
            position = clamped(CameraPosition(pan: position.pan + velocity.pan * configuration.panSpeed * seconds,
                                              tilt: position.tilt + velocity.tilt * configuration.tiltSpeed * seconds,
                                              zoom: position.zoom + velocity.zoom * configuration.zoomSpeed * seconds))
        }
    }

    private static func step(_ value: Double, toward target: Double, by distance: Double) -> Double {
        let remaining = target - value
        if abs(remaining) <= distance { return target }
        return value + (remaining > 0 ? distance : -distance)
    }

    /// The position at `now` (advancing to it).
    public mutating func position(at now: Instant) -> CameraPosition {
        advance(to: now)
        return position
    }

    /// Applies `command` at `now`; returns the result and the position right after it.
    public mutating func apply(_ command: CameraCommand, now: Instant) -> (CameraResult, CameraPosition) {
        advance(to: now)
        let result = apply(command)
        return (result, position)
    }

    private mutating func apply(_ command: CameraCommand) -> CameraResult {
        switch command {
        case .move(let pan, let tilt, let zoom):
            guard pan.isFinite, tilt.isFinite, zoom.isFinite else { return .failed }
            target = nil
            velocity = Velocity(pan: Self.unit(pan), tilt: Self.unit(tilt), zoom: Self.unit(zoom))
            return .ok
        case .stop:
            target = nil
            velocity = .zero
            return .ok
        case .absolute(let pan, let tilt, let zoom):
            guard [pan, tilt, zoom].allSatisfy({ $0.map(\.isFinite) ?? true }),
                  pan.map(configuration.pan.contains) ?? true,
                  tilt.map(configuration.tilt.contains) ?? true,
                  zoom.map(configuration.zoom.contains) ?? true else { return .failed }
            go(to: CameraPosition(pan: pan ?? position.pan, tilt: tilt ?? position.tilt, zoom: zoom ?? position.zoom))
            return .ok
        case .relative(let pan, let tilt, let zoom):
            guard [pan, tilt, zoom].allSatisfy({ $0.map(\.isFinite) ?? true }) else { return .failed }
            // Relative to where the camera is, or to where it is heading when positioning.
            let base = target ?? position
            go(to: clamped(CameraPosition(pan: base.pan + (pan ?? 0), tilt: base.tilt + (tilt ?? 0), zoom: base.zoom + (zoom ?? 0))))
            return .ok
        case .focus(let mode, let focusPosition):
            if let focusPosition {
                guard focusPosition.isFinite, focusPosition >= 0, focusPosition <= 1 else { return .failed }
                if mode == .manual { self.focusPosition = focusPosition }
            }
            focusMode = mode
            return .ok
        case .presetGoto(let preset):
            guard presets.indices.contains(preset), let stored = presets[preset] else { return .failed }
            go(to: stored)
            return .ok
        case .presetSave(let preset):
            guard presets.indices.contains(preset) else { return .failed }
            presets[preset] = position
            return .ok
        case .home:
            go(to: clamped(configuration.home))
            return .ok
        }
    }

    private mutating func go(to goal: CameraPosition) {
        velocity = .zero
        switch configuration.positioning {
        case .instant:
            position = goal
            target = nil
        case .travel:
            target = goal == position ? nil : goal
        }
    }

    private static func unit(_ value: Double) -> Double { min(1, max(-1, value)) }

    private func clamped(_ p: CameraPosition) -> CameraPosition {
        CameraPosition(pan: min(configuration.pan.max, max(configuration.pan.min, p.pan)),
                       tilt: min(configuration.tilt.max, max(configuration.tilt.min, p.tilt)),
                       zoom: min(configuration.zoom.max, max(configuration.zoom.min, p.zoom)))
    }
}

/// A `CameraDriver` over `PTZSimulation`: commands are answered immediately.
public actor SimulatedCamera: CameraDriver {
    public nonisolated let description: CameraDescription
    private var simulation: PTZSimulation

    public init(cameraId: String = "main", name: String = "Simulated PTZ camera",
                configuration: PTZSimulation.Configuration = PTZSimulation.Configuration(), now: Instant) {
        let simulation = PTZSimulation(configuration: configuration, now: now)
        self.simulation = simulation
        self.description = CameraDescription(cameraId: cameraId, name: name, capabilities: simulation.capabilities())
    }

    public func execute(_ command: CameraCommand, now: Instant) async -> (CameraResult, CameraPosition?) {
        let (result, position) = simulation.apply(command, now: now)
        return (result, position)
    }

    public func position(now: Instant) async -> CameraPosition? {
        simulation.position(at: now)
    }

    /// Whether the camera is moving at `now`.
    public func isMoving(now: Instant) -> Bool {
        simulation.advance(to: now)
        return simulation.isMoving
    }

    /// The commanded velocities (fractions of the top speeds).
    public var velocity: PTZSimulation.Velocity { simulation.velocity }

    /// A copy of the simulation's state at `now`, for inspection.
    public func snapshot(now: Instant) -> PTZSimulation {
        simulation.advance(to: now)
        return simulation
    }
}
