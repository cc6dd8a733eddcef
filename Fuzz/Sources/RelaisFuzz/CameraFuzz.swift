import Foundation
import RelaisCamera
import RelaisSignaling
import RelaisWire

/// Camera control as a room runs it: a cart with two cameras, two experts and an observer, then
/// the input as a script of signaling frames, one a line. A line's first byte says who sends it
/// (cart, expert A, expert B, observer, or a time step / leave / rejoin / stop-all) and how far the
/// clock moves; the rest is decoded like a WebSocket frame and handed to `CameraControl`, so the
/// validation (ranges, identifiers, capabilities) and the floor and deadman rules all see it.
enum CameraFuzz {
    static let participants = ["cart", "expertA", "expertB", "observer"]
    static let roles: [Role] = [.cart, .expert, .expert, .observer]
    static let cameras = #"""
        {"type":"cameras","requestId":"c1","cameras":[
        {"cameraId":"main","name":"Bedside PTZ","capabilities":{"continuousPanTilt":true,"continuousZoom":true,"absolutePosition":true,"relativePosition":true,"focus":true,"presets":4,"pan":{"min":-170,"max":170},"tilt":{"min":-30,"max":90},"zoom":{"min":1,"max":12}}},
        {"cameraId":"aux","name":"Wall","capabilities":{"continuousPanTilt":false,"continuousZoom":false,"absolutePosition":false,"relativePosition":false,"focus":false,"presets":0}}]}
        """#

    /// Decoded once: JSON decoding costs more than the rest of an input.
    static let camerasMessage = try? ClientMessage.decode(cameras)

    static func run(_ input: UnsafeRawBufferPointer) {
        var reader = FuzzInput(input)
        let policy: CameraControl.FloorPolicy = reader.byte() & 1 == 0 ? .firstExpert : .cartGrants
        var control = CameraControl(configuration: .init(policy: policy))
        var now = Instant(nanoseconds: 1_000_000_000)
        var sink = 0
        for (id, role) in zip(participants, roles) {
            sink &+= control.join(participantId: id, role: role, subject: id).count
        }
        if let camerasMessage {
            sink &+= control.handle(camerasMessage, from: "cart", now: now).count
        }
        for line in reader.rest.split(separator: 0x0A) {
            guard let head = line.first else { continue }
            now = now + .milliseconds(Int(head >> 3) * 20)
            let frame = Data(line.dropFirst())
            let sender = participants[Int(head & 3)]
            switch head & 7 {
            case 4:
                sink &+= control.tick(now: now).count
            case 5:
                sink &+= control.leave(participantId: participants[Int(head >> 3) & 3], now: now).count
            case 6:
                let i = Int(head >> 3) & 3
                sink &+= control.join(participantId: participants[i], role: roles[i], subject: participants[i]).count
            case 7:
                sink &+= control.stopAll(cause: .consultationEnded, now: now).count
            default:
                guard let message = try? ClientMessage.decode(frame) else { continue }
                for output in control.handle(message, from: sender, now: now) {
                    switch output {
                    case .send(_, let m), .broadcast(let m, _): sink &+= m.encoded().utf8.count
                    default: sink &+= 1
                    }
                }
            }
            _ = control.nextDeadline
        }
        sink &+= control.allCameraStates.count &+ control.auditLog.count
        consume(sink)
    }
}
