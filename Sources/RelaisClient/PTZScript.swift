public import Foundation
public import RelaisSignaling

/// A scripted camera session for `relais-client --role expert --ptz-script FILE`: a JSON array of
/// steps, run in order once a camera is available. Each command waits for the cart's
/// acknowledgement (command-to-acknowledgement time is what is measured); `move` steps stream
/// continuous moves without waiting, as a joystick does.
///
/// ```json
/// [{"floorRequest": "main"},
///  {"command": {"kind": "absolute", "pan": 30, "tilt": 10, "zoom": 2}},
///  {"command": {"kind": "presetSave", "preset": 1}},
///  {"command": {"kind": "home"}, "expectPosition": {"pan": 0, "tilt": 0, "zoom": 1}},
///  {"command": {"kind": "presetGoto", "preset": 1}, "expectPosition": {"pan": 30, "tilt": 10, "zoom": 2}},
///  {"move": {"pan": 0.5, "tilt": 0, "zoom": 0}, "forMs": 600, "everyMs": 100},
///  {"command": {"kind": "stop"}},
///  {"waitMs": 200},
///  {"floorRelease": "main"}]
/// ```
public struct PTZScript: Sendable, Decodable {
    public enum Step: Sendable, Decodable {
        case floorRequest(String?)
        case floorRelease(String?)
        case command(CameraCommand, camera: String?, expect: CameraPosition?)
        case move(pan: Double, tilt: Double, zoom: Double, forMilliseconds: Int, everyMilliseconds: Int, camera: String?)
        case wait(milliseconds: Int)

        enum Keys: String, CodingKey { case floorRequest, floorRelease, command, camera, expectPosition, move, forMs, everyMs, waitMs }
        struct Velocities: Decodable { var pan: Double; var tilt: Double; var zoom: Double }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            if c.contains(.floorRequest) {
                self = .floorRequest(try c.decodeIfPresent(String.self, forKey: .floorRequest))
            } else if c.contains(.floorRelease) {
                self = .floorRelease(try c.decodeIfPresent(String.self, forKey: .floorRelease))
            } else if c.contains(.command) {
                self = .command(try c.decode(CameraCommand.self, forKey: .command), camera: try c.decodeIfPresent(String.self, forKey: .camera),
                                expect: try c.decodeIfPresent(CameraPosition.self, forKey: .expectPosition))
            } else if c.contains(.move) {
                let v = try c.decode(Velocities.self, forKey: .move)
                self = .move(pan: v.pan, tilt: v.tilt, zoom: v.zoom, forMilliseconds: try c.decode(Int.self, forKey: .forMs),
                             everyMilliseconds: try c.decodeIfPresent(Int.self, forKey: .everyMs) ?? 100,
                             camera: try c.decodeIfPresent(String.self, forKey: .camera))
            } else if c.contains(.waitMs) {
                self = .wait(milliseconds: try c.decode(Int.self, forKey: .waitMs))
            } else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown PTZ script step"))
            }
        }
    }

    public var steps: [Step]

    public init(from decoder: any Decoder) throws {
        steps = try decoder.singleValueContainer().decode([Step].self)
    }

    public init(contentsOf url: URL) throws {
        self = try JSONDecoder().decode(PTZScript.self, from: Data(contentsOf: url))
    }
}

/// What a PTZ script run measured.
public struct PTZReport: Sendable, Codable, Equatable {
    /// Commands that wait for their acknowledgement (everything but streamed moves).
    public var commandsSent = 0
    public var acknowledged = 0
    /// Streamed continuous moves; the relay forwards at most 20 a second, latest wins, so not
    /// every one is acknowledged.
    public var movesSent = 0
    public var movesAcknowledged = 0
    public var failed = 0
    public var refused: [String] = []
    /// Command to acknowledgement, for the commands that wait for theirs.
    public var ackMillisecondsP50: Double?
    public var ackMillisecondsP99: Double?
    public var ackMillisecondsMax: Double?
    /// The same for streamed moves, which the relay may hold up to one coalescing interval (50 ms).
    public var moveAckMillisecondsP50: Double?
    public var moveAckMillisecondsP99: Double?
    /// Steps with an expected position that the acknowledgement did not confirm.
    public var positionMismatches: [String] = []
    public var lastPosition: CameraPosition?
    public var controlled: [String] = []
}
