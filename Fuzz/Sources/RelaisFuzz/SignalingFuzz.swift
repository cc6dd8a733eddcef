import Foundation
import RelaisSignaling

/// One WebSocket text frame from a client: `ClientMessage.decode` must refuse anything malformed
/// with a typed `SignalingError`. A decoded message is encoded again, and that encoding must decode
/// to the same message (what the relay logs and replays is what it understood). The server's
/// messages, which the headless client decodes, are fuzzed with the same frame.
enum SignalingFuzz {
    static func run(_ input: UnsafeRawBufferPointer) {
        let data = Data(input)
        if let message = try? ClientMessage.decode(data) {
            let again = try? ClientMessage.decode(message.encoded())
            precondition(again == message, "a decoded ClientMessage does not survive encode and decode")
        }
        if let message = try? ServerMessage.decode(data) {
            consume(message.encoded())
        }
    }
}
