import Foundation
import RelaisCamera
import RelaisSignaling
import RelaisWire
import Testing

@Suite("Camera floor")
struct FloorTests {
    @Test("first expert: a free floor is given, a held one refused floor_busy and recorded; release then hand-over")
    func firstExpertHandOver() {
        var room = Harness()
        let first = room.requestFloor(by: "e1")
        #expect(first.floors == [FloorStateBody(cameraId: "main", cartId: "cart", controller: "e1", requested: [])])
        #expect(first.refusals.isEmpty)

        let busy = room.requestFloor(by: "e2")
        #expect(busy.refusalCodes == [.floorBusy])
        #expect(busy.floors == [FloorStateBody(cameraId: "main", cartId: "cart", controller: "e1", requested: ["e2"])])
        #expect(room.requestFloor(by: "e2").floors.isEmpty)  // recorded once

        let release = room.send(.floorRelease(FloorBody(cameraId: "main")), from: "e1")
        #expect(release.floors == [FloorStateBody(cameraId: "main", cartId: "cart", controller: nil, requested: ["e2"])])
        #expect(release.commands.isEmpty)  // not moving: no stop

        let second = room.requestFloor(by: "e2")
        #expect(second.floors == [FloorStateBody(cameraId: "main", cartId: "cart", controller: "e2", requested: [])])
        #expect(room.command(.home, from: "e2").commands.first?.from == "e2")
        #expect(room.command(.home, from: "e1").refusalCodes == [.notController])
    }

    @Test("release while moving: the relay stops the camera")
    func releaseWhileMoving() {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: -0.7, tilt: 0, zoom: 0), at: ms(0))
        let outputs = room.send(.floorRelease(FloorBody(cameraId: "main")), from: "e1", at: ms(100))
        #expect(outputs.commands(to: "cart").map(\.command) == [.stop])
        #expect(outputs.commands.first?.from == CameraControl.relayId)
        #expect(room.advance(to: ms(2000)).commands.isEmpty)
    }

    @Test("cart grants: request -> floorRequested to the cart -> grant -> floor broadcast; revoke while moving stops")
    func cartGrants() {
        var room = Harness(policy: .cartGrants)
        let request = room.requestFloor(by: "e1")
        #expect(request.sent(to: "cart") == [.floorRequested(FloorBody(cameraId: "main", participantId: "e1"))])
        #expect(request.floors == [FloorStateBody(cameraId: "main", cartId: "cart", controller: nil, requested: ["e1"])])
        #expect(room.control.floorState(cameraId: "main")?.controller == nil)
        #expect(room.command(.home).refusalCodes == [.notController])  // asking is not holding
        let again = room.requestFloor(by: "e1")
        #expect(again.sent(to: "cart").isEmpty && again.floors.isEmpty)  // forwarded once
        #expect(again.audits.map(\.outcome) == [.accepted])

        let grant = room.send(.floorGrant(FloorBody(cameraId: "main", participantId: "e1")), from: "cart")
        #expect(grant.floors == [FloorStateBody(cameraId: "main", cartId: "cart", controller: "e1", requested: [])])

        #expect(room.command(.move(pan: 0.5, tilt: 0.5, zoom: 0), at: ms(0)).commands.count == 1)
        let revoke = room.send(.floorRevoke(FloorBody(cameraId: "main")), from: "cart", at: ms(100))
        #expect(revoke.commands(to: "cart").map(\.command) == [.stop])
        #expect(revoke.commands.first?.from == CameraControl.relayId)
        if case .deadmanStop(.floorRevoked, _) = revoke.audits.first?.outcome {} else { Issue.record("revoke stop not audited") }
        #expect(revoke.floors == [FloorStateBody(cameraId: "main", cartId: "cart", controller: nil, requested: [])])
        #expect(room.command(.move(pan: 0.5, tilt: 0, zoom: 0)).refusalCodes == [.notController])
    }

    @Test("cart grants: a grant to another expert stops the previous controller's motion")
    func grantReassigns() {
        var room = Harness(policy: .cartGrants)
        room.send(.floorGrant(FloorBody(cameraId: "main", participantId: "e1")), from: "cart")
        room.command(.move(pan: 0.5, tilt: 0, zoom: 0), at: ms(0))
        let outputs = room.send(.floorGrant(FloorBody(cameraId: "main", participantId: "e2")), from: "cart", at: ms(10))
        #expect(outputs.commands.map(\.command) == [.stop])
        #expect(outputs.floors.last?.controller == "e2")
        // A grant to an observer or a stranger is refused.
        let toObserver = room.send(.floorGrant(FloorBody(cameraId: "main", participantId: "o")), from: "cart")
        #expect(toObserver.refusalCodes == [.invalidCommand])
        #expect(room.send(.floorGrant(FloorBody(cameraId: "main", participantId: "zz")), from: "cart").refusalCodes == [.invalidCommand])
        #expect(room.control.floorState(cameraId: "main")?.controller == "e2")
    }

    @Test("a leaving cart's cameras are gone: empty camerasAvailable, freed floors, commands camera_unknown")
    func cartLeaves() {
        var room = Harness()
        room.requestFloor("main", by: "e1")
        room.command(.move(pan: 0.5, tilt: 0, zoom: 0), at: ms(0))
        let outputs = room.leave("cart", at: ms(10))
        #expect(outputs.contains(.broadcast(.camerasAvailable(CamerasAvailableBody(participantId: "cart", cameras: [])), except: "cart")))
        #expect(outputs.floors == [FloorStateBody(cameraId: "main", cartId: "cart", controller: nil, requested: [])])
        #expect(outputs.commands.isEmpty)  // nobody to send a stop to
        #expect(room.control.nextDeadline == nil)
        #expect(room.command(.stop).refusalCodes == [.cameraUnknown])
        #expect(room.control.allCameras.map(\.cameraId) == ["aux"])
    }

    @Test("a participant joining later learns the cameras and floors")
    func lateJoin() {
        var room = Harness()
        room.requestFloor("aux", by: "e2")
        let outputs = room.control.join(participantId: "e3", role: .expert, subject: "dr-three")
        #expect(outputs.sent(to: "e3") == [
            .camerasAvailable(CamerasAvailableBody(participantId: "cart", cameras: [Fixture.fullCamera(), Fixture.fixedCamera()])),
            .camerasAvailable(CamerasAvailableBody(participantId: "cart2", cameras: [Fixture.fullCamera("aux")])),
            .floor(FloorStateBody(cameraId: "main", cartId: "cart", controller: nil, requested: [])),
            .floor(FloorStateBody(cameraId: "fixed", cartId: "cart", controller: nil, requested: [])),
            .floor(FloorStateBody(cameraId: "aux", cartId: "cart2", controller: "e2", requested: [])),
        ])
    }

    @Test("a re-advertisement without a camera frees its floor")
    func readvertise() {
        var room = Harness()
        room.requestFloor("fixed", by: "e1")
        let outputs = room.send(.cameras(CamerasBody(cameras: [Fixture.fullCamera()])), from: "cart")
        #expect(outputs.floors == [FloorStateBody(cameraId: "fixed", cartId: "cart", controller: nil, requested: [])])
        #expect(outputs.contains(.broadcast(.camerasAvailable(CamerasAvailableBody(participantId: "cart", cameras: [Fixture.fullCamera()])), except: "cart")))
        #expect(room.command(.stop, camera: "fixed").refusalCodes == [.cameraUnknown])
    }
}

@Suite("Camera acknowledgements")
struct AckTests {
    @Test("the controller gets the cart's ack under its own command id")
    func routing() {
        var room = Harness()
        room.requestFloor()
        let sent = room.command(.absolute(pan: 10, tilt: 5, zoom: 2), id: "my-abs-1").commands.first!
        #expect(sent.commandId != "my-abs-1")
        let position = CameraPosition(pan: 10, tilt: 5, zoom: 2)
        let outputs = room.send(.cameraAck(CameraAckBody(cameraId: "main", commandId: sent.commandId, result: .ok, position: position)), from: "cart")
        #expect(outputs.sent(to: "e1") == [.cameraAck(CameraAckBody(cameraId: "main", commandId: "my-abs-1", result: .ok, position: position))])
        #expect(outputs.audits.map(\.outcome) == [.ack(.ok)])
        #expect(room.control.inFlightCount == 0)
        // A second ack for the same command is dropped.
        let again = room.send(.cameraAck(CameraAckBody(cameraId: "main", commandId: sent.commandId, result: .ok)), from: "cart")
        #expect(again.sent(to: "e1").isEmpty)
        #expect(again.audits.map(\.outcome) == [.ackDropped])
    }

    @Test("a stranger's ack is refused not_controller and not forwarded")
    func strangerAck() {
        var room = Harness()
        room.requestFloor()
        let sent = room.command(.home, id: "h").commands.first!
        for stranger in ["cart2", "e2", "e1", "o"] {
            let outputs = room.send(.cameraAck(CameraAckBody(cameraId: "main", commandId: sent.commandId, result: .failed)), from: stranger)
            #expect(outputs.refusalCodes == [.notController], "\(stranger)")
            #expect(outputs.sent(to: "e1").isEmpty)
        }
        // The real one still goes through.
        let real = room.send(.cameraAck(CameraAckBody(cameraId: "main", commandId: sent.commandId, result: .failed, message: "jammed")), from: "cart")
        #expect(real.sent(to: "e1") == [.cameraAck(CameraAckBody(cameraId: "main", commandId: "h", result: .failed, message: "jammed"))])
    }

    @Test("acks for unknown, evicted or relay commands are audited and not forwarded")
    func unknownAcks() {
        var room = Harness(configure: { $0.maxInFlight = 3 })
        room.requestFloor()
        for id in ["not-ours", "c-999", "c-", "c-x"] {
            let outputs = room.send(.cameraAck(CameraAckBody(cameraId: "main", commandId: id, result: .ok)), from: "cart")
            #expect(outputs.audits.map(\.outcome) == [.ackDropped])
            #expect(outputs.refusals.isEmpty && outputs.sent(to: "e1").isEmpty)
        }
        let ids = (0..<5).map { room.command(.home, id: "h\($0)").commands.first!.commandId }
        #expect(room.control.inFlightCount == 3)
        let evicted = room.send(.cameraAck(CameraAckBody(cameraId: "main", commandId: ids[0], result: .ok)), from: "cart")
        #expect(evicted.audits.map(\.outcome) == [.ackDropped])
        let kept = room.send(.cameraAck(CameraAckBody(cameraId: "main", commandId: ids[4], result: .ok)), from: "cart")
        #expect(kept.sent(to: "e1").count == 1)
        // The relay's own stop: acknowledged, audited, nobody to forward to.
        room.command(.move(pan: 0.1, tilt: 0, zoom: 0), at: ms(0))
        let stop = room.advance(to: ms(600)).commands.first!
        let ack = room.send(.cameraAck(CameraAckBody(cameraId: "main", commandId: stop.commandId, result: .ok)), from: "cart")
        #expect(ack.audits.map(\.outcome) == [.ack(.ok)])
        #expect(ack.sent(to: "e1").isEmpty)
    }
}

@Suite("Camera audit")
struct AuditTests {
    @Test("every command, accepted or refused, is audited with who, what and when; records round-trip as JSON")
    func records() throws {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: 0.1, tilt: 0, zoom: 0), id: "a", at: ms(5))
        room.command(.move(pan: 0.2, tilt: 0, zoom: 0), id: "b", at: ms(6))
        room.command(.stop, from: "o", id: "c", at: ms(7))
        let log = room.control.auditLog.filter { $0.kind == "move" || $0.kind == "stop" }
        #expect(log.map(\.participantId) == ["e1", "e1", "o"])
        #expect(log.map(\.subject) == ["dr-one", "dr-one", "trainee"])
        #expect(log.map(\.role) == [.expert, .expert, .observer])
        #expect(log.map(\.time) == [ms(5), ms(6), ms(7)])
        #expect(log.map(\.commandId) == ["a", "b", "c"])
        #expect(log.map(\.outcome) == [.forwarded(commandId: room.commandsSent[0].body.commandId), .coalesced, .refused(.notController)])

        let data = try JSONEncoder().encode(room.control.auditLog)
        let decoded = try JSONDecoder().decode([CameraAuditRecord].self, from: data)
        #expect(decoded == room.control.auditLog)
    }

    @Test("the audit log is a ring keeping the newest records")
    func ring() {
        var room = Harness(configure: { $0.auditCapacity = 5 })
        room.requestFloor()
        for i in 0..<12 { room.command(.home, id: "h\(i)") }
        #expect(room.control.auditLog.map(\.commandId) == ["h7", "h8", "h9", "h10", "h11"])
    }
}
