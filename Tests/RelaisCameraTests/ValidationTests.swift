import RelaisCamera
import RelaisSignaling
import RelaisWire
import Testing

@Suite("Camera command validation")
struct ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var camera: String
        var command: CameraCommand
        var commandId: String = "cmd"
        /// nil: accepted and forwarded.
        var expected: ErrorCode?
        var testDescription: String { "\(name) -> \(expected?.rawValue ?? "forwarded")" }
    }

    static let cases: [Case] = [
        // Non-finite values (impossible in JSON, possible for any other caller).
        Case(name: "move pan NaN", camera: "main", command: .move(pan: .nan, tilt: 0, zoom: 0), expected: .invalidCommand),
        Case(name: "move tilt +inf", camera: "main", command: .move(pan: 0, tilt: .infinity, zoom: 0), expected: .invalidCommand),
        Case(name: "move zoom -inf", camera: "main", command: .move(pan: 0, tilt: 0, zoom: -.infinity), expected: .invalidCommand),
        Case(name: "absolute tilt NaN", camera: "main", command: .absolute(pan: nil, tilt: .nan, zoom: nil), expected: .invalidCommand),
        Case(name: "relative pan +inf", camera: "main", command: .relative(pan: .infinity, tilt: nil, zoom: nil), expected: .invalidCommand),
        Case(name: "focus position NaN", camera: "main", command: .focus(mode: .manual, position: .nan), expected: .invalidCommand),
        // Out of range.
        Case(name: "move pan 1.5", camera: "main", command: .move(pan: 1.5, tilt: 0, zoom: 0), expected: .invalidCommand),
        Case(name: "move zoom -1.01", camera: "main", command: .move(pan: 0, tilt: 0, zoom: -1.01), expected: .invalidCommand),
        Case(name: "absolute pan 171 > 170", camera: "main", command: .absolute(pan: 171, tilt: nil, zoom: nil), expected: .invalidCommand),
        Case(name: "absolute tilt -31 < -30", camera: "main", command: .absolute(pan: 0, tilt: -31, zoom: nil), expected: .invalidCommand),
        Case(name: "absolute zoom 0.5 < 1", camera: "main", command: .absolute(pan: nil, tilt: nil, zoom: 0.5), expected: .invalidCommand),
        Case(name: "absolute with no axis", camera: "main", command: .absolute(pan: nil, tilt: nil, zoom: nil), expected: .invalidCommand),
        Case(name: "relative pan 341 > width 340", camera: "main", command: .relative(pan: 341, tilt: nil, zoom: nil), expected: .invalidCommand),
        Case(name: "relative zoom -12 < -width 11", camera: "main", command: .relative(pan: nil, tilt: nil, zoom: -12), expected: .invalidCommand),
        Case(name: "focus position 1.5", camera: "main", command: .focus(mode: .manual, position: 1.5), expected: .invalidCommand),
        Case(name: "presetGoto 8 of 8", camera: "main", command: .presetGoto(preset: 8), expected: .invalidCommand),
        Case(name: "presetSave -1", camera: "main", command: .presetSave(preset: -1), expected: .invalidCommand),
        // Command ids.
        Case(name: "empty commandId", camera: "main", command: .stop, commandId: "", expected: .invalidCommand),
        Case(name: "65-byte commandId", camera: "main", command: .stop, commandId: String(repeating: "x", count: 65), expected: .invalidCommand),
        // Unknown camera.
        Case(name: "unknown camera", camera: "nope", command: .stop, expected: .cameraUnknown),
        // Capabilities the fixed camera did not advertise.
        Case(name: "move pan on fixed", camera: "fixed", command: .move(pan: 0.5, tilt: 0, zoom: 0), expected: .cameraUnsupported),
        Case(name: "move tilt on fixed", camera: "fixed", command: .move(pan: 0, tilt: -0.5, zoom: 0), expected: .cameraUnsupported),
        Case(name: "move zoom on fixed", camera: "fixed", command: .move(pan: 0, tilt: 0, zoom: 0.5), expected: .cameraUnsupported),
        Case(name: "absolute on fixed", camera: "fixed", command: .absolute(pan: 0, tilt: nil, zoom: nil), expected: .cameraUnsupported),
        Case(name: "relative on fixed", camera: "fixed", command: .relative(pan: 0, tilt: nil, zoom: nil), expected: .cameraUnsupported),
        Case(name: "focus on fixed", camera: "fixed", command: .focus(mode: .auto, position: nil), expected: .cameraUnsupported),
        Case(name: "presetGoto on fixed", camera: "fixed", command: .presetGoto(preset: 0), expected: .cameraUnsupported),
        Case(name: "presetSave on fixed", camera: "fixed", command: .presetSave(preset: 0), expected: .cameraUnsupported),
        // Accepted at the limits.
        Case(name: "move at full speed", camera: "main", command: .move(pan: 1, tilt: -1, zoom: 1)),
        Case(name: "absolute at the bounds", camera: "main", command: .absolute(pan: -170, tilt: 90, zoom: 12)),
        Case(name: "relative by the full width", camera: "main", command: .relative(pan: -340, tilt: 120, zoom: 11)),
        Case(name: "focus at 0 and auto", camera: "main", command: .focus(mode: .manual, position: 0)),
        Case(name: "last preset", camera: "main", command: .presetGoto(preset: 7)),
        Case(name: "64-byte commandId", camera: "main", command: .home, commandId: String(repeating: "x", count: 64)),
        Case(name: "zero move on fixed is a stop", camera: "fixed", command: .move(pan: 0, tilt: 0, zoom: 0)),
        Case(name: "stop on fixed", camera: "fixed", command: .stop),
        Case(name: "home on fixed", camera: "fixed", command: .home),
    ]

    @Test("commands are validated against values and capabilities", arguments: cases)
    func validation(_ c: Case) {
        var room = Harness()
        room.requestFloor("main")
        room.requestFloor("fixed")
        let outputs = room.command(c.command, camera: c.camera, id: c.commandId, requestId: "req")
        if let expected = c.expected {
            #expect(outputs.refusals.map(\.code) == [expected])
            #expect(outputs.refusals.first?.requestId == "req")
            #expect(outputs.commands.isEmpty)
            #expect(outputs.audits.map(\.outcome) == [.refused(expected)])
            #expect(outputs.audits.first?.kind == c.command.kind)
        } else {
            #expect(outputs.refusals.isEmpty)
            #expect(outputs.commands(to: "cart").map(\.command) == [c.command])
        }
    }

    @Test("advertisements: only valid, room-unique camera ids and sane ranges")
    func advertisementValidation() {
        var room = Harness()
        // cart2 claims cart's camera id: refused, cart keeps it.
        let clash = room.send(.cameras(CamerasBody(requestId: "a", cameras: [Fixture.fullCamera("main")])), from: "cart2")
        #expect(clash.refusals.map(\.code) == [.invalidCommand])
        #expect(clash.refusals.first?.requestId == "a")
        #expect(room.control.floorState(cameraId: "main")?.cartId == "cart")
        #expect(room.control.floorState(cameraId: "aux")?.cartId == "cart2")  // whole advertisement refused

        var nanRange = Fixture.fullCamera("x")
        nanRange.capabilities.pan = AxisRange(min: .nan, max: 10)
        var inverted = Fixture.fullCamera("y")
        inverted.capabilities.zoom = AxisRange(min: 12, max: 1)
        var negativePresets = Fixture.fullCamera("z")
        negativePresets.capabilities.presets = -1
        for bad in [[nanRange], [inverted], [negativePresets], [Fixture.fullCamera(""), Fixture.fixedCamera("b")],
                    [Fixture.fullCamera("d"), Fixture.fixedCamera("d")]] {
            let outputs = room.send(.cameras(CamerasBody(cameras: bad)), from: "cart2")
            #expect(outputs.refusals.map(\.code) == [.invalidCommand])
        }
        #expect(room.control.allCameras.map(\.cameraId) == ["main", "fixed", "aux"])
    }
}
