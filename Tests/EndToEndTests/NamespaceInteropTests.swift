import Foundation
import RelaisAdmin
import Testing

/// Third-party stacks that gather no loopback candidate against the real relay (issue 15): GStreamer's
/// webrtcbin (the WebRTC stack of many embedded cart devices) and headless Chromium. Each run is one
/// `netns_interop.py` inside a private network namespace (`unshare -n`, a veth pair on
/// 10.77.0.0/24): the built `relais-server` and the peers of one room.
@Suite("Third-party peers in a network namespace", .serialized)
struct NamespaceInteropTests {
    struct Section: Decodable, Equatable {
        var port: Int
        var kind: String
        var bundle_only: Bool
    }
    struct WebRTCBinReport: Decodable {
        var offer_sections: [Section]
        var answer_sections: [Section]
        var ice_connected_after_s: Double?
        var connection_state: String
        var video_frames: Int
        var audio_buffers: Int
        var offers_answered: Int
        var errors: [String]
    }
    struct AiortcExpert: Decodable {
        var expert1: ConsultationRoomTests.Receiver
    }
    struct AiortcCart: Decodable {
        var published: Bool
        var schema_violations: [JSONValue]
    }
    struct MediaLoop: Decodable {
        var forwarded: Int
        var srtpFailures: Int
        var transportFeedbackToPublishers: Int
    }
    struct Media: Decodable { var loops: [MediaLoop] }
    struct Report<Cart: Decodable, Expert: Decodable>: Decodable {
        var cart: Cart
        var expert: Expert
        var media: Media
    }

    /// Runs one `netns_interop.py` scenario in a fresh network namespace and decodes its report.
    static func run<T: Decodable>(_ scenario: String, _ type: T.Type, arguments: [String] = []) async throws -> T {
        let server = BuiltProducts.binDirectory.appendingPathComponent("relais-server").path
        let result = try await runProcess("/usr/bin/unshare", arguments: [
            "-n", "/usr/bin/python3", peerScriptPath("netns_interop.py"), "--server-bin", server, "--scenario", scenario,
        ] + arguments, timeout: .seconds(120))
        #expect(result.status == 0, "netns_interop.py exited \(result.status): \(result.stderr.suffix(2000))")
        return try ConsultationRoomTests.decodeReport(type, result)
    }

    /// webrtcbin's max-bundle offer marks the audio `a=bundle-only` with port 0: the relay accepts
    /// both tracks on the bundle's transport, answers them, and an aiortc expert decodes both. The
    /// cart stamps the transport-wide sequence number, so the relay sends it TWCC feedback.
    @Test func webrtcbinPublishesItsBundleOnlyOfferAndAiortcDecodes() async throws {
        let report = try await Self.run("webrtcbin-cart", Report<WebRTCBinReport, AiortcExpert>.self)
        #expect(report.cart.offer_sections == [
            Section(port: 9, kind: "video", bundle_only: false), Section(port: 0, kind: "audio", bundle_only: true),
        ])
        #expect(report.cart.answer_sections.map(\.kind) == ["video", "audio"])
        #expect(report.cart.answer_sections.allSatisfy { $0.port != 0 }, "the relay refused a section: \(report.cart.answer_sections)")
        #expect(report.cart.connection_state == "connected")
        #expect(report.cart.errors.isEmpty)
        #expect(report.expert.expert1.video_frames >= 60)
        #expect(report.expert.expert1.audio_frames >= 100)
        #expect(report.expert.expert1.schema_violations.isEmpty, "\(report.expert.expert1.schema_violations)")
        let media = try #require(report.media.loops.first)
        #expect(media.srtpFailures == 0)
        #expect(media.transportFeedbackToPublishers > 10)
    }

    /// An aiortc cart publishes; webrtcbin answers the relay's subscribe offer and decodes video and audio.
    @Test func aiortcPublishesAndWebrtcbinSubscribesAndDecodes() async throws {
        let report = try await Self.run("webrtcbin-expert", Report<AiortcCart, WebRTCBinReport>.self)
        #expect(report.cart.published)
        #expect(report.cart.schema_violations.isEmpty)
        #expect(report.expert.offers_answered >= 1)
        #expect(report.expert.connection_state == "connected")
        #expect(report.expert.video_frames >= 60)
        #expect(report.expert.audio_buffers >= 100)
        #expect(report.expert.errors.isEmpty)
    }

    // MARK: Chromium

    struct ChromiumSample: Decodable {
        var t: Double
        var availableOutgoingBitrate: Double?
        var bytesSent: Int
        var frameWidth: Int?
    }
    struct ChromiumPage: Decodable {
        var samples: [ChromiumSample]
        var errors: [String]
        var connectedAt: Double?
    }
    struct ChromiumReport: Decodable {
        var cart: ChromiumPage
        var media: Media
        /// The admin API's `congestionFeedback` of each publisher, by name, while Chromium publishes.
        var publish_feedback: [String: CongestionFeedback?]
    }

    /// Headless Chromium publishing its fake 1280x720 camera gets the relay's transport-wide
    /// feedback, so its congestion controller probes instead of climbing blind from 300 kbit/s by
    /// 8% a second (what it did with receiver reports only: 352 kbit/s after 4 s, 1.06 Mbit/s after
    /// 18 s). Measured with feedback through the debug relay the tests run: 1.27 Mbit/s 1 s after
    /// connecting, 3.86 Mbit/s after 7 s (through the release relay: 2.5 Mbit/s after 0.53 s).
    @Test func chromiumsEstimateClimbsOnTheRelaysTransportFeedback() async throws {
        let report = try await Self.run("chromium-cart", ChromiumReport.self, arguments: ["--duration", "12"])
        #expect(report.cart.errors.isEmpty, "\(report.cart.errors)")
        let connected = try #require(report.cart.connectedAt, "the publish connection never connected")
        let estimates = report.cart.samples.filter { $0.t <= connected + 4 }.compactMap(\.availableOutgoingBitrate)
        #expect((estimates.max() ?? 0) >= 1_000_000, "estimate within 4 s of connecting: \(estimates)")
        #expect(report.cart.samples.last.map { $0.bytesSent > 100_000 } ?? false)
        #expect((report.media.loops.first?.transportFeedbackToPublishers ?? 0) > 50)
        let feedback = try #require(report.publish_feedback["cart"] ?? nil, "the admin API shows no congestion feedback for the cart")
        #expect(feedback.transportWide)
        #expect(feedback.feedbackPackets > 20)
        #expect(feedback.packetsReported > feedback.feedbackPackets)
    }
}
