public import RelaisSignaling
public import RelaisWire

/// A pan/tilt/zoom camera on the cart: what `relais-client --role cart` executes the relay's
/// camera commands on (a simulated camera, or a real one over VISCA-over-IP).
///
/// Shape: the protocol is `Sendable` and its operations `async` because drivers are actors
/// (a VISCA camera waits for the camera's ACK and completion; callers on any task or event loop
/// must be able to share one driver under strict concurrency). `description` is immutable and
/// readable without hopping. `now` is the caller's clock (the simulated camera integrates its
/// motion over it; a network camera, which runs on real time, ignores it).
public protocol CameraDriver: AnyObject, Sendable {
    var description: CameraDescription { get }

    /// Executes one command. The position is the camera's position once the command is accepted
    /// (nil when it could not be read). `.unsupported` for a command the camera's capabilities
    /// exclude, `.failed` when the camera refused it or did not answer.
    func execute(_ command: CameraCommand, now: Instant) async -> (CameraResult, CameraPosition?)

    /// The camera's current position, nil when it cannot be read.
    func position(now: Instant) async -> CameraPosition?
}

extension CameraCapabilities {
    /// Whether the capabilities allow `command` at all (ranges are the driver's business).
    public func allows(_ command: CameraCommand) -> Bool {
        switch command {
        case .move(let pan, let tilt, let zoom):
            return (continuousPanTilt || (pan == 0 && tilt == 0)) && (continuousZoom || zoom == 0)
        case .stop:
            return continuousPanTilt || continuousZoom
        case .absolute, .home:
            return absolutePosition
        case .relative:
            return relativePosition
        case .focus:
            return focus
        case .presetGoto, .presetSave:
            return presets > 0
        }
    }
}
