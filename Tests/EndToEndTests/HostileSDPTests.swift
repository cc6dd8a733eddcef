import Foundation
import RelaisAuth
import RelaisServer
import RelaisSignaling
import Testing

/// Issue 13's reported crash, end to end: a cart's publish offer with an empty `a=ssrc`, one with
/// an `a=rtpmap` clock rate of 4294967296, and offers with control characters in `a=mid` and
/// `a=fmtp` are each refused with `invalid_sdp`; the relay keeps running (it is in this process: a
/// trap would end the test run), the hostile room still negotiates a valid offer, and a
/// consultation in another room (two real `relais-client` processes) keeps receiving media.
@Suite(.serialized) struct HostileSDPTests {
    static let secret = "hostile-sdp-test-secret-0123456789abcdef"

    /// The aiortc capture, CRLF-terminated, with one edit applied to its text.
    static func offer(_ edit: (String) -> String = { $0 }) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("RelaisWireTests/Fixtures/SDP/aiortc-offer.sdp")
        let text = try String(contentsOf: url, encoding: .utf8)
        let crlf = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
            .joined(separator: "\r\n") + "\r\n"
        return edit(crlf)
    }

    /// A publish `offer` message, JSON-encoded so every control character travels escaped.
    static func offerMessage(_ requestId: String, _ sdp: String) throws -> String {
        let object: [String: String] = ["type": "offer", "requestId": requestId, "target": "publish", "sdp": sdp]
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// RTP packets forwarded, summed over the media loops (the counter is labelled per loop).
    static func forwarded(_ metrics: [String: Double]) -> Double {
        metrics.filter { $0.key.hasPrefix("relais_rtp_forwarded_total") }.values.reduce(0, +)
    }

    @Test func hostilePublishOffersAreRefusedAndAnotherRoomsMediaKeepsFlowing() async throws {
        let client = builtExecutable("relais-client")
        try #require(FileManager.default.isExecutableFile(atPath: client), "build relais-client first (swift build)")
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.signaling.tokenSecret = Self.secret }
            let url = "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling"

            // The good consultation, in its own room: a cart publishing, an expert judging what it receives.
            let good = ["--url", url, "--room", "stroke-good", "--token-secret", Self.secret, "--width", "320", "--height", "240"]
            async let cart = runProcess(client, arguments: good + ["--role", "cart", "--name", "ER cart", "--duration", "24"], timeout: .seconds(90))
            async let expert = runProcess(client, arguments: good + [
                "--role", "expert", "--name", "Dr. N", "--no-publish", "--duration", "18", "--json", "--expect-tracks", "1", "--expect-min-fps", "10",
            ], timeout: .seconds(90))
            let flowing = try await SignalingLimitsTests.metrics(server, "the good consultation's media") {
                Self.forwarded($0) > 200
            }

            // The hostile cart, in another room.
            let socket = try await RawWebSocket.connect(port: server.running.httpPort)
            defer { socket.shutdown() }
            try await SignalingLimitsTests.join(
                socket, token: try await SignalingLimitsTests.token(server, room: "stroke-hostile", role: .cart, name: "Mallory"), room: "stroke-hostile")
            let hostile: [(String, String)] = [
                ("empty-ssrc", try Self.offer { $0.replacingOccurrences(of: "a=rtcp-mux\r\n", with: "a=rtcp-mux\r\na=ssrc:\r\n") }),
                // An attribute part of only a colon: the old accessor indexed an empty split and trapped.
                ("colon-ssrc", try Self.offer { $0.replacingOccurrences(of: "a=rtcp-mux\r\n", with: "a=rtcp-mux\r\na=ssrc:3125511115 :\r\n") }),
                ("clock-rate", try Self.offer { $0.replacingOccurrences(of: "VP8/90000", with: "VP8/4294967296") }),
                ("mid-control", try Self.offer { $0.replacingOccurrences(of: "a=mid:0\r\n", with: "a=mid:0\u{7}\u{1B}[2J\r\n") }),
                ("fmtp-cr", try Self.offer {
                    $0.replacingOccurrences(of: "a=fmtp:99 level-asymmetry-allowed=1;", with: "a=fmtp:99 level-asymmetry-allowed=1\ra=ssrc:1 cname:injected;")
                }),
            ]
            for (id, sdp) in hostile {
                try await socket.send(try Self.offerMessage(id, sdp))
                let reply = try #require(try await socket.text(containing: #""requestId":"\#(id)""#), "no reply to \(id)")
                #expect(reply.contains(#""code":"invalid_sdp""#), "\(id): \(reply)")
                #expect(reply.contains(#""type":"error""#), "\(id): \(reply)")
            }
            let refusedAt = try await SignalingLimitsTests.metrics(server, "the refusals counted") {
                ($0[#"relais_signaling_errors_total{code="invalid_sdp"}"#] ?? 0) >= Double(hostile.count)
            }

            // The relay still serves the hostile room: the same cart's valid offer is answered.
            try await socket.send(try Self.offerMessage("valid", try Self.offer()))
            let answer = try #require(try await socket.text(containing: #""requestId":"valid""#))
            #expect(answer.contains(#""type":"answer""#), "\(answer)")

            // The good room's media keeps flowing after the hostile offers.
            let before = Self.forwarded(refusedAt)
            _ = try await SignalingLimitsTests.metrics(server, "media forwarded after the hostile offers") {
                Self.forwarded($0) > before + 200
            }
            #expect(Self.forwarded(refusedAt) >= Self.forwarded(flowing))
            let expertResult = try await expert
            let cartResult = try await cart
            #expect(expertResult.status == 0, "expert: \(expertResult.stdout.suffix(1500)) \(expertResult.stderr.suffix(1500))")
            #expect(cartResult.status == 0, "cart: \(cartResult.stderr.suffix(1500))")
        }
    }
}
