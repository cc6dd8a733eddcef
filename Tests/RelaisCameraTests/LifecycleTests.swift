import RelaisCamera
import RelaisSignaling
import RelaisWire
import Testing

/// The room's end and a participant's resume, as the camera rules see them.
@Suite struct CameraLifecycleTests {
    @Test("the room closing stops every camera in motion, once, and leaves cameras at rest alone")
    func stopAllStopsOnlyMovingCameras() {
        var room = Harness()
        room.requestFloor()
        room.requestFloor("aux", by: "e2")
        room.command(.move(pan: 0.5, tilt: 0, zoom: 0), at: ms(0))
        room.command(.absolute(pan: 10, tilt: 0, zoom: 2), camera: "aux", from: "e2", id: "abs", at: ms(10))
        let outputs = room.control.stopAll(cause: .consultationEnded, now: ms(20))
        #expect(outputs.commands(to: "cart").map(\.command) == [.stop])
        #expect(outputs.commands(to: "cart2").isEmpty, "aux is at rest: no stop")
        #expect(outputs.commands.allSatisfy { $0.from == CameraControl.relayId })
        let audit = outputs.audits.first
        if case .deadmanStop(.consultationEnded, _) = audit?.outcome {} else { Issue.record("not audited as ended: \(String(describing: audit))") }
        #expect(audit?.participantId == "e1")
        #expect(room.control.nextDeadline == nil, "nothing left to stop")
        #expect(room.control.stopAll(cause: .serverShutdown, now: ms(30)).isEmpty)
        // The departures that follow the close send no second stop.
        #expect(room.leave("e1", at: ms(40)).commands.isEmpty)
    }

    @Test("a coalesced move not yet sent is also stopped when the room closes")
    func stopAllCoversAHeldBackMove() {
        var room = Harness()
        room.requestFloor()
        room.command(.move(pan: 0.5, tilt: 0, zoom: 0), id: "m1", at: ms(0))
        room.command(.move(pan: 0.6, tilt: 0, zoom: 0), id: "m2", at: ms(10))  // held back for its slot
        let outputs = room.control.stopAll(cause: .serverShutdown, now: ms(20))
        #expect(outputs.commands(to: "cart").map(\.command) == [.stop])
        #expect(room.advance(to: ms(1000)).commands.isEmpty, "the held-back move must never be sent after the stop")
    }

    @Test("a participant that left and joins again (a resume) is a member again: floor, commands, advertisement")
    func rejoinAfterLeaveRestoresMembership() {
        var room = Harness()
        room.leave("e1")
        #expect(room.requestFloor().refusalCodes == [.notJoined])
        let rejoined = room.control.join(participantId: "e1", role: .expert, subject: "dr-one")
        #expect(rejoined.contains { if case .send("e1", .camerasAvailable) = $0 { true } else { false } }, "told the cameras again")
        #expect(room.requestFloor().floors.last?.controller == "e1")
        #expect(room.command(.absolute(pan: 20, tilt: 5, zoom: 3), at: ms(10)).commands(to: "cart").count == 1)

        room.leave("cart2")
        #expect(room.send(.cameras(CamerasBody(cameras: [Fixture.fullCamera("aux")])), from: "cart2").refusalCodes == [.notJoined])
        room.control.join(participantId: "cart2", role: .cart, subject: "cart2-subject")
        let advertised = room.send(.cameras(CamerasBody(cameras: [Fixture.fullCamera("aux")])), from: "cart2")
        #expect(advertised.refusalCodes.isEmpty)
        #expect(room.control.allCameras.map(\.cameraId).contains("aux"))
    }
}
