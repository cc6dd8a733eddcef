import TestSupport
import RelaisCamera
import RelaisSignaling
import RelaisWire
import Testing

@Suite("Camera control properties")
struct PropertyTests {
    static let participants: [(id: String, role: Role)] = [
        ("cart", .cart), ("cart2", .cart), ("e1", .expert), ("e2", .expert), ("e3", .expert), ("o", .observer),
    ]
    static let cameraIds = ["main", "fixed", "aux", "nope"]

    /// The room as the participants see it, rebuilt from the outputs only.
    struct Model {
        var roles: [String: Role] = [:]
        var owner: [String: String] = [:]
        var controller: [String: String] = [:]
        /// Per camera: the non-zero moves received since the last command other than a move was
        /// sent to its cart. Only those may be forwarded.
        var movesSinceStop: [String: [(from: String, command: CameraCommand)]] = [:]
        var lastSent: [String: CameraCommand] = [:]
        var serverIds: [String] = []
    }

    static func randomCommand(_ rng: inout SplitMix64) -> CameraCommand {
        let velocities: [Double] = [0, 0.25, -0.5, 1, -1, 0.75, 1.5, .nan, .infinity]
        func v() -> Double {
            // Mostly fresh values so a forwarded move can be told apart from an earlier one.
            Bool.random(using: &rng) ? Double(Int.random(in: -1000...1000, using: &rng)) / 1000 : velocities.randomElement(using: &rng)!
        }
        switch Int.random(in: 0..<12, using: &rng) {
        case 0...5: return .move(pan: v(), tilt: v(), zoom: Bool.random(using: &rng) ? 0 : v())
        case 6, 7: return .stop
        case 8: return .absolute(pan: Double(Int.random(in: -200...200, using: &rng)), tilt: nil, zoom: nil)
        case 9: return .focus(mode: .manual, position: v())
        case 10: return .presetGoto(preset: Int.random(in: -1...9, using: &rng))
        default: return .home
        }
    }

    @Test("random traffic: no command from a non-controller reaches a cart, no move outlives a stop, nothing runs away",
          arguments: [CameraControl.FloorPolicy.firstExpert, .cartGrants], [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomTraffic(policy: CameraControl.FloorPolicy, seed: UInt64) {
        var rng = SplitMix64(seed: seed &* 0x1234_5678_9ABC + UInt64(policy == .cartGrants ? 1 : 0))
        var control = CameraControl(configuration: .init(policy: policy, maxInFlight: 64))
        var model = Model()
        var now = Instant.zero
        var forwardedCount = 0

        func check(_ outputs: [CameraOutput], input: (from: String, body: CameraCommandBody)?) {
            for output in outputs {
                switch output {
                case .broadcast(.camerasAvailable(let body), _):
                    for (camera, owner) in model.owner where owner == body.participantId {
                        // Gone (or replaced): what was sent to the old camera no longer matters.
                        model.owner[camera] = nil
                        if !body.cameras.contains(where: { $0.cameraId == camera }) {
                            model.lastSent[camera] = nil
                            model.movesSinceStop[camera] = []
                        }
                    }
                    for camera in body.cameras { model.owner[camera.cameraId] = body.participantId }
                case .broadcast(.floor(let body), _):
                    model.controller[body.cameraId] = body.controller
                case .send(let to, .cameraCommand(let body)):
                    forwardedCount += 1
                    model.serverIds.append(body.commandId)
                    #expect(model.owner[body.cameraId] == to, "seed \(seed): command for \(body.cameraId) sent to \(to), not its cart")
                    if body.from != CameraControl.relayId {
                        let from = body.from ?? "?"
                        #expect(model.roles[from] == .expert, "seed \(seed): command from non-expert \(from)")
                        #expect(model.controller[body.cameraId] == from, "seed \(seed): command from \(from), controller is \(String(describing: model.controller[body.cameraId]))")
                        if let input, !body.command.isNonZeroMove || input.body.cameraId == body.cameraId && input.body.command == body.command {
                            #expect(input.from == from, "seed \(seed): \(input.from)'s message forwarded as \(from)'s")
                        }
                    } else {
                        #expect(body.command == .stop)
                    }
                    if body.command.isNonZeroMove {
                        let allowed = model.movesSinceStop[body.cameraId, default: []]
                        #expect(allowed.contains { $0.from == body.from && $0.command == body.command },
                                "seed \(seed): move \(body.command) sent for \(body.cameraId) that was not received since the last stop")
                    } else {
                        model.movesSinceStop[body.cameraId] = []
                    }
                    model.lastSent[body.cameraId] = body.command
                case .send, .broadcast, .refuse, .audit:
                    break
                }
            }
        }

        for (id, role) in Self.participants {
            model.roles[id] = role
            check(control.join(participantId: id, role: role, subject: "s-\(id)"), input: nil)
        }
        check(control.handle(.cameras(CamerasBody(cameras: [Fixture.fullCamera(), Fixture.fixedCamera()])), from: "cart", now: now), input: nil)
        check(control.handle(.cameras(CamerasBody(cameras: [Fixture.fullCamera("aux")])), from: "cart2", now: now), input: nil)

        for _ in 0..<3000 {
            // Mostly joystick pace (moves held back by the rate limit), sometimes long silences (deadman).
            now = now + .milliseconds(Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 0...800, using: &rng) : Int.random(in: 0...30, using: &rng))
            while let deadline = control.nextDeadline, deadline <= now {
                check(control.tick(now: deadline), input: nil)
                if control.nextDeadline == deadline { Issue.record("seed \(seed): tick at \(deadline) left the deadline in place"); return }
            }
            check(control.tick(now: now), input: nil)

            let camera = Self.cameraIds.randomElement(using: &rng)!
            // Anyone sends anything, but the controller and the owning cart more often than
            // chance, so that floors are held long enough for commands to flow.
            var sender: String
            switch Int.random(in: 0..<20, using: &rng) {
            case 0: sender = "ghost"
            case 1...9: sender = Self.participants.randomElement(using: &rng)!.id
            case 10...15: sender = model.controller[camera] ?? Self.participants.randomElement(using: &rng)!.id
            default: sender = model.owner[camera] ?? Self.participants.randomElement(using: &rng)!.id
            }
            let message: ClientMessage
            var commandInput: (from: String, body: CameraCommandBody)?
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<50:
                if Bool.random(using: &rng), let controller = model.controller[camera] { sender = controller }
                let body = CameraCommandBody(cameraId: camera, commandId: Int.random(in: 0..<20, using: &rng) == 0 ? "" : "k\(Int.random(in: 0..<1000, using: &rng))",
                                             command: Self.randomCommand(&rng))
                message = .cameraCommand(body)
                commandInput = (sender, body)
                // Only a move that passes validation and comes from the controller may be forwarded
                // later; record every received one (the check against `from` keeps it honest).
                if body.command.isNonZeroMove { model.movesSinceStop[camera, default: []].append((sender, body.command)) }
            case 50..<62: message = .floorRequest(FloorBody(cameraId: camera))
            case 62..<66: message = .floorRelease(FloorBody(cameraId: camera))
            case 66..<76:
                if Bool.random(using: &rng), let owner = model.owner[camera] { sender = owner }
                let grantee = Bool.random(using: &rng) ? ["e1", "e2", "e3"].randomElement(using: &rng)! : Self.participants.randomElement(using: &rng)!.id
                message = .floorGrant(FloorBody(cameraId: camera, participantId: grantee))
            case 76..<79: message = .floorRevoke(FloorBody(cameraId: camera))
            case 79..<92:
                let id = model.serverIds.isEmpty || Int.random(in: 0..<5, using: &rng) == 0
                    ? "c-\(Int.random(in: 0..<100, using: &rng))" : model.serverIds.randomElement(using: &rng)!
                message = .cameraAck(CameraAckBody(cameraId: camera, commandId: id, result: .ok))
            case 92..<95:
                let cameras = Int.random(in: 0..<3, using: &rng) == 0 ? [] : [Fixture.fullCamera(camera)]
                message = .cameras(CamerasBody(cameras: cameras))
            default:
                // Leave and come back (a disconnect and a rejoin).
                if sender != "ghost", let role = model.roles[sender] {
                    check(control.leave(participantId: sender, now: now), input: nil)
                    check(control.join(participantId: sender, role: role, subject: "s-\(sender)"), input: nil)
                    if role == .cart {
                        let cameras = sender == "cart" ? [Fixture.fullCamera(), Fixture.fixedCamera()] : [Fixture.fullCamera("aux")]
                        check(control.handle(.cameras(CamerasBody(cameras: cameras)), from: sender, now: now), input: nil)
                    }
                }
                continue
            }
            check(control.handle(message, from: sender, now: now), input: commandInput)
        }

        // Silence: every camera comes to rest within the deadman interval.
        let end = now + .seconds(2)
        while let deadline = control.nextDeadline, deadline <= end {
            check(control.tick(now: deadline), input: nil)
            if control.nextDeadline == deadline { Issue.record("seed \(seed): tick at \(deadline) left the deadline in place"); return }
        }
        #expect(control.nextDeadline == nil)
        for (camera, command) in model.lastSent where model.owner[camera] != nil {
            #expect(!command.isNonZeroMove, "seed \(seed): \(camera) left moving with \(command)")
        }
        let refusals = control.auditLog.compactMap { if case .refused(let code) = $0.outcome { "\($0.kind):\(code.rawValue)" } else { nil } }
        let histogram = Dictionary(grouping: refusals, by: { $0 }).mapValues(\.count).sorted { $0.value > $1.value }.prefix(12)
        #expect(forwardedCount > 50, "seed \(seed): the random traffic should reach the carts; \(histogram)")
    }
}
