import RelaisCamera
import RelaisSignaling
import RelaisWire

/// Milliseconds on the fake clock.
func ms(_ value: Int) -> Instant { Instant(nanoseconds: UInt64(value) * 1_000_000) }

enum Fixture {
    /// A camera that can do everything: pan -170...170, tilt -30...90, zoom 1...12, 8 presets.
    static func fullCamera(_ id: String = "main") -> CameraDescription {
        CameraDescription(cameraId: id, name: "PTZ \(id)", capabilities: CameraCapabilities(
            continuousPanTilt: true, continuousZoom: true, absolutePosition: true, relativePosition: true, focus: true, presets: 8,
            pan: AxisRange(min: -170, max: 170), tilt: AxisRange(min: -30, max: 90), zoom: AxisRange(min: 1, max: 12)))
    }

    /// A camera that can do nothing but stop and go home.
    static func fixedCamera(_ id: String = "fixed") -> CameraDescription {
        CameraDescription(cameraId: id, name: "Fixed \(id)", capabilities: CameraCapabilities(
            continuousPanTilt: false, continuousZoom: false, absolutePosition: false, relativePosition: false, focus: false, presets: 0,
            pan: AxisRange(min: 0, max: 0), tilt: AxisRange(min: 0, max: 0), zoom: AxisRange(min: 1, max: 1)))
    }
}

/// A room around a `CameraControl` on a fake clock: `at` runs every tick due before the message,
/// the way the Room actor schedules `tick` at `nextDeadline`. Every output is logged with its time.
struct Harness {
    var control: CameraControl
    var now = Instant.zero
    var log: [(time: Instant, output: CameraOutput)] = []

    /// cart "cart" with cameras main (full) and fixed (none); cart "cart2" with camera aux (full);
    /// experts e1 e2; observer o.
    init(policy: CameraControl.FloorPolicy = .firstExpert, configure: (inout CameraControl.Configuration) -> Void = { _ in },
         advertise: Bool = true) {
        var configuration = CameraControl.Configuration(policy: policy)
        configure(&configuration)
        control = CameraControl(configuration: configuration)
        control.join(participantId: "cart", role: .cart, subject: "cart-subject")
        control.join(participantId: "cart2", role: .cart, subject: "cart2-subject")
        control.join(participantId: "e1", role: .expert, subject: "dr-one")
        control.join(participantId: "e2", role: .expert, subject: "dr-two")
        control.join(participantId: "o", role: .observer, subject: "trainee")
        if advertise {
            send(.cameras(CamerasBody(cameras: [Fixture.fullCamera(), Fixture.fixedCamera()])), from: "cart")
            send(.cameras(CamerasBody(cameras: [Fixture.fullCamera("aux")])), from: "cart2")
        }
    }

    /// Runs the ticks due up to `time`, each at its deadline, then moves the clock to `time`.
    @discardableResult
    mutating func advance(to time: Instant) -> [CameraOutput] {
        var outputs: [CameraOutput] = []
        while let deadline = control.nextDeadline, deadline <= time {
            let at = Swift.max(deadline, now)
            now = at
            let produced = control.tick(now: at)
            outputs += produced
            log += produced.map { (at, $0) }
            if produced.isEmpty && control.nextDeadline == deadline { break }  // a stuck deadline: let the test see it
        }
        now = Swift.max(now, time)
        return outputs
    }

    @discardableResult
    mutating func send(_ message: ClientMessage, from participantId: String, at time: Instant? = nil) -> [CameraOutput] {
        var outputs = advance(to: time ?? now)
        let produced = control.handle(message, from: participantId, now: now)
        log += produced.map { (now, $0) }
        outputs += produced
        return outputs
    }

    @discardableResult
    mutating func leave(_ participantId: String, at time: Instant? = nil) -> [CameraOutput] {
        var outputs = advance(to: time ?? now)
        let produced = control.leave(participantId: participantId, now: now)
        log += produced.map { (now, $0) }
        outputs += produced
        return outputs
    }

    @discardableResult
    mutating func command(_ command: CameraCommand, camera: String = "main", from: String = "e1", id: String = "cmd",
                          requestId: String? = nil, at time: Instant? = nil) -> [CameraOutput] {
        send(.cameraCommand(CameraCommandBody(requestId: requestId, cameraId: camera, commandId: id, command: command)), from: from, at: time)
    }

    @discardableResult
    mutating func requestFloor(_ camera: String = "main", by participant: String = "e1") -> [CameraOutput] {
        send(.floorRequest(FloorBody(cameraId: camera)), from: participant)
    }

    /// Every camera command sent to carts so far, with its time.
    var commandsSent: [(time: Instant, to: String, body: CameraCommandBody)] {
        log.compactMap { entry in
            if case .send(let to, .cameraCommand(let body)) = entry.output { return (entry.time, to, body) }
            return nil
        }
    }
}

extension [CameraOutput] {
    var commands: [CameraCommandBody] {
        compactMap { if case .send(_, .cameraCommand(let body)) = $0 { body } else { nil } }
    }

    func commands(to cart: String) -> [CameraCommandBody] {
        compactMap { if case .send(cart, .cameraCommand(let body)) = $0 { body } else { nil } }
    }

    var refusals: [(to: String, requestId: String?, code: ErrorCode)] {
        compactMap { if case .refuse(let to, let requestId, let error) = $0 { (to, requestId, error.code) } else { nil } }
    }

    var refusalCodes: [ErrorCode] { refusals.map(\.code) }

    var floors: [FloorStateBody] {
        compactMap { if case .broadcast(.floor(let body), _) = $0 { body } else { nil } }
    }

    var audits: [CameraAuditRecord] {
        compactMap { if case .audit(let record) = $0 { record } else { nil } }
    }

    func sent(to participant: String) -> [ServerMessage] {
        compactMap { if case .send(participant, let message) = $0 { message } else { nil } }
    }
}

extension CameraCommand {
    var isNonZeroMove: Bool {
        if case .move(let p, let t, let z) = self { return p != 0 || t != 0 || z != 0 }
        return false
    }

    var isStopLike: Bool {
        if case .stop = self { return true }
        if case .move = self { return !isNonZeroMove }
        return false
    }
}
