import RelaisCamera
import RelaisSignaling
import RelaisWire
import Testing

@Suite("Camera deadman")
struct DeadmanTests {
    @Test("silence: the relay stops the camera exactly `deadman` after the last move, not before")
    func silence() {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: 0.3, tilt: 0, zoom: 0), at: ms(0))
        room.command(.move(pan: 0.4, tilt: 0, zoom: 0), at: ms(300))
        #expect(room.control.nextDeadline == ms(800))
        #expect(room.advance(to: ms(799)).commands.isEmpty)
        let outputs = room.advance(to: ms(1000))
        #expect(outputs.commands(to: "cart").map(\.command) == [.stop])
        #expect(outputs.commands.first?.from == CameraControl.relayId)
        #expect(room.commandsSent.last?.time == ms(800))
        let audit = outputs.audits.first
        if case .deadmanStop(.silence, _) = audit?.outcome {} else { Issue.record("not audited as deadman: \(String(describing: audit))") }
        #expect(audit?.participantId == "e1")
        #expect(audit?.subject == "dr-one")
        // Once stopped, nothing more is due.
        #expect(room.control.nextDeadline == nil)
        #expect(room.advance(to: ms(5000)).commands.isEmpty)
    }

    @Test("ticked every millisecond, the deadman stop goes out at 500 ms after the last move")
    func silenceMillisecondTicks() {
        var control = CameraControl(configuration: .init())
        control.join(participantId: "cart", role: .cart, subject: "c")
        control.join(participantId: "e1", role: .expert, subject: "e")
        _ = control.handle(.cameras(CamerasBody(cameras: [Fixture.fullCamera()])), from: "cart", now: ms(0))
        _ = control.handle(.floorRequest(FloorBody(cameraId: "main")), from: "e1", now: ms(0))
        _ = control.handle(.cameraCommand(CameraCommandBody(cameraId: "main", commandId: "m", command: .move(pan: 1, tilt: 0, zoom: 0))),
                           from: "e1", now: ms(10))
        var stopAt: Int?
        for t in 11...2000 {
            if control.tick(now: ms(t)).commands.contains(where: { $0.command == .stop }) {
                #expect(stopAt == nil)
                stopAt = t
            }
        }
        #expect(stopAt == 510)
    }

    @Test("a moving controller that leaves is stopped at once; its floor is freed")
    func leaveWhileMoving() {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: 0, tilt: 0.8, zoom: 0), at: ms(0))
        let outputs = room.leave("e1", at: ms(100))
        #expect(outputs.commands(to: "cart").map(\.command) == [.stop])
        #expect(outputs.commands.first?.from == CameraControl.relayId)
        #expect(outputs.floors.last == FloorStateBody(cameraId: "main", cartId: "cart", controller: nil, requested: []))
        if case .deadmanStop(.controllerLeft, _) = outputs.audits.first?.outcome {} else { Issue.record("not audited as deadman") }
        #expect(room.control.nextDeadline == nil)
        #expect(room.advance(to: ms(2000)).commands.isEmpty)
    }

    @Test("a controller at rest that leaves sends no stop; a stop ends the deadman")
    func leaveAtRestAndStopDisarms() {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: 0.2, tilt: 0, zoom: 0), at: ms(0))
        room.command(.stop, at: ms(100))
        #expect(room.control.nextDeadline == nil)
        #expect(room.advance(to: ms(3000)).commands.isEmpty)
        let outputs = room.leave("e1")
        #expect(outputs.commands.isEmpty)
        #expect(outputs.floors.last?.controller == nil)
    }

    @Test("a zero move is a stop: it disarms the deadman")
    func zeroMove() {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: 0.2, tilt: 0, zoom: 0), at: ms(0))
        let outputs = room.command(.move(pan: 0, tilt: 0, zoom: 0), at: ms(10))
        #expect(outputs.commands.map(\.command) == [.move(pan: 0, tilt: 0, zoom: 0)])  // not held back by the rate limit
        #expect(room.control.nextDeadline == nil)
    }

    @Test("a focus during a continuous move keeps the deadman armed")
    func focusKeepsDeadman() {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: 0.2, tilt: 0, zoom: 0), at: ms(0))
        room.command(.focus(mode: .auto, position: nil), at: ms(100))
        #expect(room.control.nextDeadline == ms(500))
        #expect(room.advance(to: ms(600)).commands.map(\.command) == [.stop])
    }
}

@Suite("Camera move coalescing")
struct CoalescingTests {
    @Test("100 moves in 1 s: at most 20 forwarded in any second, the latest one last")
    func burst() {
        var room = Harness()
        room.requestFloor()
        for i in 0..<100 {
            room.command(.move(pan: Double(i + 1) / 100, tilt: 0, zoom: 0), id: "m\(i)", at: ms(i * 10))
        }
        room.advance(to: ms(1200))
        let moves = room.commandsSent.filter { $0.body.command.isNonZeroMove }
        // Any window of one second holds at most 20 forwarded moves.
        for (index, first) in moves.enumerated() {
            let inWindow = moves[index...].prefix { $0.time < first.time + .seconds(1) }
            #expect(inWindow.count <= 20, "\(inWindow.count) moves in the second from \(first.time)")
        }
        #expect(moves.filter { $0.time < ms(1000) }.count <= 20)
        #expect(moves.count >= 19)  // rate limited, not starved
        #expect(moves.last?.body.command == .move(pan: 1.0, tilt: 0, zoom: 0))
        // Every forwarded move is one the controller sent, in order.
        let pans = moves.map { (entry) -> Double in
            if case .move(let p, _, _) = entry.body.command { return p }
            return -1
        }
        #expect(pans == pans.sorted())
        // The coalesced ones are audited as such, and each forward once.
        let audits = room.control.auditLog.filter { $0.kind == "move" }
        #expect(audits.filter { if case .forwarded = $0.outcome { true } else { false } }.count == moves.count)
        #expect(audits.contains { $0.outcome == .coalesced })
    }

    @Test("a stop right after a burst goes out at once and no held-back move follows it")
    func stopAfterBurst() {
        var room = Harness()
        room.requestFloor()
        for i in 0..<20 {
            room.command(.move(pan: 0.5, tilt: Double(i) / 40, zoom: 0), at: ms(i * 10))
        }
        #expect(room.control.nextDeadline != nil)
        let stop = room.command(.stop, id: "halt", at: ms(195))
        #expect(stop.commands(to: "cart").map(\.command) == [.stop])
        #expect(stop.commands.first?.from == "e1")
        let after = room.advance(to: ms(3000))
        #expect(after.commands.isEmpty)
        #expect(room.commandsSent.last?.body.command == .stop)
    }

    @Test("any other command goes out at once and discards the held-back move")
    func otherCommandDiscardsPending() {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: 0.5, tilt: 0, zoom: 0), at: ms(0))
        #expect(room.command(.move(pan: 0.6, tilt: 0, zoom: 0), at: ms(10)).commands.isEmpty)  // held back
        let preset = room.command(.presetGoto(preset: 2), at: ms(20))
        #expect(preset.commands.map(\.command) == [.presetGoto(preset: 2)])
        // Neither the held-back move nor anything but the deadman stop follows.
        let after = room.advance(to: ms(3000))
        #expect(after.commands.map(\.command) == [.stop])
        #expect(after.commands.first?.from == CameraControl.relayId)
    }

    @Test("the rate limit is per camera")
    func perCamera() {
        var room = Harness()
        room.requestFloor("main")
        room.requestFloor("aux")
        let a = room.command(.move(pan: 0.5, tilt: 0, zoom: 0), camera: "main", at: ms(0))
        let b = room.command(.move(pan: 0.5, tilt: 0, zoom: 0), camera: "aux", at: ms(1))
        #expect(a.commands(to: "cart").count == 1)
        #expect(b.commands(to: "cart2").count == 1)
    }
}
