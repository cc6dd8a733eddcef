import RelaisCamera
import RelaisSignaling
import RelaisWire
import Testing

@Suite("Camera authorization")
struct AuthorizationTests {
    @Test("the controller's command reaches the owning cart, from the controller, under a server id")
    func controllerCommandForwarded() {
        var room = Harness()
        room.requestFloor()
        let outputs = room.command(.move(pan: 0.5, tilt: 0, zoom: 0), id: "joy-1")
        let sent = outputs.commands(to: "cart")
        #expect(sent.count == 1)
        #expect(sent.first?.from == "e1")
        #expect(sent.first?.command == .move(pan: 0.5, tilt: 0, zoom: 0))
        #expect(sent.first?.commandId.hasPrefix("c-") == true)
        #expect(outputs.refusals.isEmpty)
        #expect(outputs.audits.last?.outcome == .forwarded(commandId: sent.first?.commandId ?? ""))
    }

    @Test("an expert without the floor is refused not_controller")
    func expertWithoutFloor() {
        var room = Harness()
        room.requestFloor(by: "e1")
        let outputs = room.command(.move(pan: 0.5, tilt: 0, zoom: 0), from: "e2", requestId: "r-7")
        #expect(outputs.commands.isEmpty)
        #expect(outputs.refusals.map(\.code) == [.notController])
        #expect(outputs.refusals.first?.to == "e2")
        #expect(outputs.refusals.first?.requestId == "r-7")
        // Nobody holds the floor: still refused.
        var free = Harness()
        #expect(free.command(.stop, from: "e2").refusalCodes == [.notController])
    }

    @Test("an observer never commands and never gets the floor")
    func observer() {
        var room = Harness()
        #expect(room.requestFloor(by: "o").refusalCodes == [.notController])
        #expect(room.control.floorState(cameraId: "main")?.controller == nil)
        #expect(room.command(.stop, from: "o").refusalCodes == [.notController])
        #expect(room.command(.move(pan: 1, tilt: 0, zoom: 0), from: "o").commands.isEmpty)
    }

    @Test("a cart never commands a camera, its own or another cart's")
    func cartCommanding() {
        var room = Harness()
        room.requestFloor("main", by: "e1")
        room.requestFloor("aux", by: "e2")
        let own = room.command(.move(pan: 1, tilt: 0, zoom: 0), camera: "main", from: "cart")
        #expect(own.refusalCodes == [.notController])
        #expect(own.commands.isEmpty)
        let other = room.command(.stop, camera: "aux", from: "cart")
        #expect(other.refusalCodes == [.notController])
        #expect(other.commands.isEmpty)
        // A cart cannot take a floor either.
        #expect(room.requestFloor("aux", by: "cart").refusalCodes == [.notController])
    }

    @Test("a cart cannot grant or revoke another cart's camera")
    func cartGrantingAnotherCartsCamera() {
        var room = Harness(policy: .cartGrants)
        let grant = room.send(.floorGrant(FloorBody(cameraId: "aux", participantId: "e1")), from: "cart")
        #expect(grant.refusalCodes == [.notController])
        #expect(grant.floors.isEmpty)
        #expect(room.control.floorState(cameraId: "aux")?.controller == nil)
        // The owner can.
        room.send(.floorGrant(FloorBody(cameraId: "aux", participantId: "e1")), from: "cart2")
        #expect(room.control.floorState(cameraId: "aux")?.controller == "e1")
        let revoke = room.send(.floorRevoke(FloorBody(cameraId: "aux")), from: "cart")
        #expect(revoke.refusalCodes == [.notController])
        #expect(room.control.floorState(cameraId: "aux")?.controller == "e1")
    }

    struct FloorCase: Sendable, CustomTestStringConvertible {
        enum Operation: String, Sendable { case request, release, grant, revoke, advertise, ack }
        var operation: Operation
        var sender: String
        /// nil: accepted.
        var expected: ErrorCode?
        var testDescription: String { "\(operation.rawValue) by \(sender) -> \(expected?.rawValue ?? "accepted")" }
    }

    /// Floor operations by each role. Before each: e1 holds main (granted by the cart, whatever the
    /// policy), cart owns main, cart2 owns aux.
    @Test("floor operations by each role", arguments: [
        FloorCase(operation: .request, sender: "e2", expected: .floorBusy),
        FloorCase(operation: .request, sender: "o", expected: .notController),
        FloorCase(operation: .request, sender: "cart", expected: .notController),
        FloorCase(operation: .release, sender: "e1", expected: nil),
        FloorCase(operation: .release, sender: "e2", expected: .notController),
        FloorCase(operation: .release, sender: "o", expected: .notController),
        FloorCase(operation: .release, sender: "cart", expected: .notController),
        FloorCase(operation: .grant, sender: "cart", expected: nil),
        FloorCase(operation: .grant, sender: "cart2", expected: .notController),
        FloorCase(operation: .grant, sender: "e1", expected: .notController),
        FloorCase(operation: .grant, sender: "e2", expected: .notController),
        FloorCase(operation: .grant, sender: "o", expected: .notController),
        FloorCase(operation: .revoke, sender: "cart", expected: nil),
        FloorCase(operation: .revoke, sender: "cart2", expected: .notController),
        FloorCase(operation: .revoke, sender: "e1", expected: .notController),
        FloorCase(operation: .revoke, sender: "o", expected: .notController),
        FloorCase(operation: .advertise, sender: "cart", expected: nil),
        FloorCase(operation: .advertise, sender: "e1", expected: .notController),
        FloorCase(operation: .advertise, sender: "o", expected: .notController),
        FloorCase(operation: .ack, sender: "e1", expected: .notController),
        FloorCase(operation: .ack, sender: "o", expected: .notController),
        FloorCase(operation: .ack, sender: "cart2", expected: .notController),
        FloorCase(operation: .ack, sender: "cart", expected: nil),
    ])
    func floorOperations(_ c: FloorCase) {
        var room = Harness()
        room.send(.floorGrant(FloorBody(cameraId: "main", participantId: "e1")), from: "cart")
        #expect(room.control.floorState(cameraId: "main")?.controller == "e1")
        let forwarded = room.command(.move(pan: 0.2, tilt: 0, zoom: 0), id: "mine").commands.first!
        let message: ClientMessage =
            switch c.operation {
            case .request: .floorRequest(FloorBody(requestId: "q", cameraId: "main"))
            case .release: .floorRelease(FloorBody(requestId: "q", cameraId: "main"))
            case .grant: .floorGrant(FloorBody(requestId: "q", cameraId: "main", participantId: "e2"))
            case .revoke: .floorRevoke(FloorBody(requestId: "q", cameraId: "main"))
            case .advertise: .cameras(CamerasBody(requestId: "q", cameras: [Fixture.fullCamera("main")]))
            case .ack: .cameraAck(CameraAckBody(cameraId: "main", commandId: forwarded.commandId, result: .ok))
            }
        let outputs = room.send(message, from: c.sender)
        if let expected = c.expected {
            #expect(outputs.refusalCodes == [expected])
            if c.operation != .ack { #expect(outputs.refusals.first?.requestId == "q") }
            #expect(room.control.floorState(cameraId: "main")?.controller == "e1")
            #expect(outputs.sent(to: "e1").isEmpty)
        } else {
            #expect(outputs.refusals.isEmpty)
            switch c.operation {
            case .release, .revoke: #expect(room.control.floorState(cameraId: "main")?.controller == nil)
            case .grant: #expect(room.control.floorState(cameraId: "main")?.controller == "e2")
            case .ack: #expect(outputs.sent(to: "e1").count == 1)
            case .advertise, .request: #expect(room.control.floorState(cameraId: "main")?.controller == "e1")
            }
        }
        // Every message is audited, accepted or refused.
        let audit = outputs.audits.last { $0.participantId == c.sender }
        #expect(audit != nil)
        if let expected = c.expected { #expect(audit?.outcome == .refused(expected)) }
    }

    @Test("a participant that has not joined is refused not_joined and audited")
    func notJoined() {
        var room = Harness()
        let outputs = room.command(.stop, from: "ghost")
        #expect(outputs.refusalCodes == [.notJoined])
        #expect(outputs.audits.first?.participantId == "ghost")
        #expect(outputs.commands.isEmpty)
    }
}
