import Foundation
import RelaisServer
import RelaisAuth
import RelaisSignaling
import Testing

/// Consultation rooms end to end: real aiortc peers (a WebRTC stack Relais did not write) join
/// through the WebSocket signaling and exchange media through the relay over loopback.
@Suite(.serialized) struct ConsultationRoomTests {
    struct Gaps: Decodable { var expected: Int; var missing: Int }
    struct Receiver: Decodable {
        var video_frames: Int
        var audio_frames: Int
        var schema_violations: [JSONValue]
        var first_frame_after_offer_s: Double?
    }
    struct Trouble: Decodable {
        var codes: [String]
        var flood_pongs: Int
        var flood_rate_limited: Int
        var oversize_close: Int?
        var bad_token_close: Int?
        var schema_violations: [JSONValue]
    }
    struct Consultation: Decodable {
        var expert1: Receiver
        var expert2: Receiver
        var expert3: Receiver
        var cart: Receiver
        var expert1_gaps: Gaps
        var expert2_gaps: Gaps
        var proxy_dropped: Int
        var proxy_passed: Int
        var disturbance_s: Double
        var expert1_frames_during_disturbance: Int
        var troublemaker: Trouble
    }
    struct Presence: Decodable {
        var ghost_announced_after_s: Double?
        var ghost_left_reasons: [String]
        var rover_left_announcements: [JSONValue]
        var rover_joined_announcements: [JSONValue]
        var rover_resumed: Int
        var rover_frames_after_resume: Int
        var schema_violations: [JSONValue]
    }

    static func tokens(_ server: ServerHarness, room: String, _ roles: [(String, Role)]) async throws -> String {
        var tokens: [String: String] = [:]
        for (name, role) in roles {
            tokens[name] = try await server.running.tokens.mint(AccessClaims(
                subject: name, displayName: name, role: role, room: room, expires: Date().addingTimeInterval(600)))
        }
        let forger = try await TokenAuthority(secret: String(repeating: "f", count: 40))
        tokens["forged"] = try await forger.mint(AccessClaims(
            subject: "mallory", displayName: "Mallory", role: .expert, room: room, expires: Date().addingTimeInterval(600)))
        return String(decoding: try JSONEncoder().encode(tokens), as: UTF8.self)
    }

    static func decodeReport<T: Decodable>(_ type: T.Type, _ result: ProcessResult) throws -> T {
        let line = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") })
        return try #require(
            line.flatMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) },
            "peer printed no report (exit \(result.status)): \(result.stdout.suffix(1500)) \(result.stderr.suffix(3000))")
    }

    @Test func cartAndExpertsThroughLossRefusalsAndALateJoiner() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server()
            let tokens = try await Self.tokens(server, room: "stroke-1", [
                ("cart", .cart), ("expert1", .expert), ("expert2", .expert), ("expert3", .expert), ("troublemaker", .expert),
            ])
            let result = try await runPeer(script: "aiortc_room.py", arguments: [
                "--url", "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling", "--room", "stroke-1",
                "--tokens", tokens, "--scenario", "consultation", "--loss", "0.05", "--timeout", "40",
            ], timeout: .seconds(150))
            let report = try Self.decodeReport(Consultation.self, result)
            #expect(result.status == 0)

            // Two experts receive and decode the cart's VP8 and Opus.
            for expert in [report.expert1, report.expert2] {
                #expect(expert.video_frames >= 60)
                #expect(expert.audio_frames >= 100)
            }
            // The late expert decodes its first frame within 1 s of its first subscribe offer.
            let late = try #require(report.expert3.first_frame_after_offer_s, "the late expert decoded nothing")
            #expect(late < 1.0)

            // 5% loss each way on expert2's leg: NACKs answered from the relay's cache recover it.
            #expect(report.proxy_dropped * 100 >= report.proxy_passed * 3, "the proxy did not impair the leg")
            let unrecovered = Double(report.expert2_gaps.missing - report.expert1_gaps.missing) / Double(max(report.expert2_gaps.expected, 1))
            #expect(report.expert2_gaps.expected >= 60)
            #expect(unrecovered < 0.01, "expert2 lost \(report.expert2_gaps.missing) of \(report.expert2_gaps.expected) frames")
            let counters = try await server.running.media.counters()
            #expect(counters.reduce(0) { $0 + $1.retransmissions } > 0, "no NACK was answered from the cache")
            #expect(counters.reduce(0) { $0 + $1.keyframeRequests } > 0)

            // Every refusal got its documented code, and the experts' media went on meanwhile.
            let trouble = report.troublemaker
            #expect(trouble.codes == ["invalid_json", "unknown_type", "schema_violation", "invalid_sdp", "rate_limited", "message_too_large", "invalid_token"])
            #expect(trouble.flood_rate_limited == 1)
            // The burst (40) minus what the troublemaker already spent is answered; the rest is discarded.
            #expect(trouble.flood_pongs >= 30 && trouble.flood_pongs <= 40)
            #expect(trouble.oversize_close == 1009)
            #expect(trouble.bad_token_close == 1008)
            #expect(Double(report.expert1_frames_during_disturbance) >= report.disturbance_s * 30 * 0.6,
                    "expert1 decoded \(report.expert1_frames_during_disturbance) frames in \(report.disturbance_s) s of disturbance")

            // Every server message validated against Signaling/schemas.
            for receiver in [report.expert1, report.expert2, report.expert3, report.cart] {
                #expect(receiver.schema_violations.isEmpty, "\(receiver.schema_violations)")
            }
            #expect(trouble.schema_violations.isEmpty, "\(trouble.schema_violations)")
        }
    }

    struct CodecRun: Decodable {
        var expert1: Receiver
        var codecs: [String]
    }

    /// H.264 (packetization-mode 1) is forwarded when the publisher negotiates it.
    @Test func h264IsForwardedWhenNegotiated() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server()
            let tokens = try await Self.tokens(server, room: "h264-1", [("cart", .cart), ("expert1", .expert)])
            let result = try await runPeer(script: "aiortc_room.py", arguments: [
                "--url", "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling", "--room", "h264-1",
                "--tokens", tokens, "--scenario", "codec", "--video-codec", "video/H264", "--timeout", "30",
            ], timeout: .seconds(90))
            let report = try Self.decodeReport(CodecRun.self, result)
            #expect(result.status == 0)
            #expect(report.codecs == ["H264", "opus"])
            #expect(report.expert1.video_frames >= 60)
            #expect(report.expert1.audio_frames >= 100)
            #expect(report.expert1.schema_violations.isEmpty)
        }
    }

    @Test func vanishedParticipantIsRemovedAfterConsentExpiryAndResumedOneIsNot() async throws {
        // A long resume window, so the ghost's removal can only come from ICE consent expiry.
        try await withFixtures { fixtures in
            let server = try await fixtures.server {
                $0.media.transport.consentTimeout = .seconds(4)
                $0.signaling.resumeWindow = .seconds(60)
            }
            let tokens = try await Self.tokens(server, room: "derm-7", [
                ("cart", .cart), ("observer", .observer), ("expert1", .expert), ("expert2", .expert),
            ])
            let result = try await runPeer(script: "aiortc_room.py", arguments: [
                "--url", "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling", "--room", "derm-7",
                "--tokens", tokens, "--scenario", "presence", "--timeout", "30",
            ], timeout: .seconds(120))
            let report = try Self.decodeReport(Presence.self, result)
            #expect(result.status == 0)

            let after = try #require(report.ghost_announced_after_s, "the vanished participant was never announced as gone")
            // Consent runs from the ghost's last check (aiortc checks every few seconds), so removal comes
            // at most one consent timeout after it vanished, long before the 60 s resume window.
            #expect(after <= 4.0 + 2.0, "not removed at consent expiry")
            #expect(report.ghost_left_reasons == ["disconnected"])

            #expect(report.rover_resumed == 1)
            #expect(report.rover_left_announcements.isEmpty, "a resumed participant was announced as leaving")
            #expect(report.rover_joined_announcements.count == 1, "announced once, at its first join only")
            #expect(report.rover_frames_after_resume >= 30)
            #expect(report.schema_violations.isEmpty, "\(report.schema_violations)")
            let counters = try await server.running.media.counters()
            #expect(counters.reduce(0) { $0 + $1.consentExpiries } >= 1)
        }
    }
}

/// Any JSON value, for report fields the test only counts or prints.
enum JSONValue: Decodable, CustomStringConvertible {
    case value(String)
    init(from decoder: any Decoder) throws {
        if let object = try? decoder.singleValueContainer().decode([String: JSONValue].self) {
            self = .value("\(object)")
        } else if let array = try? decoder.singleValueContainer().decode([JSONValue].self) {
            self = .value("\(array)")
        } else if let string = try? decoder.singleValueContainer().decode(String.self) {
            self = .value(string)
        } else if let number = try? decoder.singleValueContainer().decode(Double.self) {
            self = .value("\(number)")
        } else {
            self = .value("null")
        }
    }
    var description: String { if case .value(let v) = self { v } else { "" } }
}
