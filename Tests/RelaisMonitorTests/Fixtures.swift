import Foundation
import RelaisAdmin

/// Hand-built model values: the stroke cart whose WebSocket dropped, and a quiet dermatology room.
enum Fixtures {
    static let now = Date(timeIntervalSince1970: 1_795_616_847.5)  // 2026-11-25 14:27:27.5 UTC

    static func track(_ id: String, _ kind: String, _ direction: TrackStats.Direction, kbps: Double, lost: Double = 0, freezes: Int = 0,
                      from: String? = nil, packets: Int = 1000, layers: [LayerStats]? = nil, layer: String? = nil) -> TrackStats {
        TrackStats(trackId: id, kind: kind, direction: direction, ssrc: 0x1234_5678, fromParticipant: from, bitrateKbps: kbps,
                   packets: packets, bytes: packets * 1100, packetsLost: Int(Double(packets) * lost), fractionLost: lost,
                   jitterMs: 4.25, roundTripMs: direction == .out ? 31.5 : nil, nacks: 3, plis: 1, keyframes: 2, freezes: freezes,
                   layers: layers, layer: layer, layerSwitches: layer == nil ? nil : 3)
    }

    /// The cart's three simulcast layers, the largest watched by both experts.
    static let layers = [
        LayerStats(rid: "q", ssrc: 1, width: 320, height: 180, framesPerSecond: 30, bitrateKbps: 160, packets: 400, keyframes: 3, subscribers: 0),
        LayerStats(rid: "h", ssrc: 2, width: 640, height: 360, framesPerSecond: 30, bitrateKbps: 510, packets: 900, keyframes: 3, subscribers: 0),
        LayerStats(rid: "f", ssrc: 3, width: 1280, height: 720, framesPerSecond: 29.5, bitrateKbps: 1810, packets: 1900, keyframes: 2, subscribers: 2),
    ]

    static func connection(_ tracks: [TrackStats], state: String = "connected", feedback: CongestionFeedback? = nil) -> PeerConnection {
        PeerConnection(state: state, selectedPair: CandidatePair(local: "127.0.0.1:40000", remote: "127.0.0.1:51234"),
                       dtlsState: state == "connected" ? "connected" : "connecting", srtpProfile: "AEAD_AES_128_GCM",
                       packetsIn: 5000, packetsOut: 4000, bytesIn: 5_000_000, bytesOut: 4_000_000, drops: ["srtpAuth": 2, "replay": 0], tracks: tracks,
                       congestionFeedback: feedback)
    }

    /// stroke-1: the cart (p-cart) is disconnected and its video lost 5.1 %; Dr. Weber holds the camera.
    static let stroke = Session(
        id: "c-stroke", room: "stroke-1", startedAt: now.addingTimeInterval(-192), loop: 0,
        participants: [
            Participant(id: "p-cart", name: "ER cart 3", role: "cart", subject: "cart-3", joinedAt: now.addingTimeInterval(-190),
                        state: .disconnected,
                        publish: connection([track("v1", "video", .in, kbps: 2480, lost: 0.0512, layers: layers), track("a1", "audio", .in, kbps: 32)],
                                            feedback: CongestionFeedback(transportWide: true, feedbackPackets: 393, packetsReported: 5000, rembKbps: 2500))),
            Participant(id: "p-weber", name: "Dr. Weber", role: "expert", subject: "weber", joinedAt: now.addingTimeInterval(-100),
                        state: .connected,
                        publish: connection([track("a2", "audio", .in, kbps: 31)]),
                        subscribe: connection([track("v1", "video", .out, kbps: 2400, from: "p-cart", layer: "f"), track("a1", "audio", .out, kbps: 32, from: "p-cart")])),
            Participant(id: "p-meier", name: "Dr. Meier", role: "expert", subject: "meier", joinedAt: now.addingTimeInterval(-50),
                        state: .connected, subscribe: connection([track("v1", "video", .out, kbps: 2390, from: "p-cart")])),
        ],
        cameras: [Camera(cameraId: "cam-1", cart: "p-cart", controller: "p-weber", moving: true)])

    /// derm-7: healthy, no camera floor held.
    static let derm = Session(
        id: "c-derm", room: "derm-7", startedAt: now.addingTimeInterval(-3725), loop: 1,
        participants: [
            Participant(id: "p-derm", name: "Derm cart", role: "cart", subject: "cart-9", joinedAt: now.addingTimeInterval(-3725),
                        state: .connected, publish: connection([track("v9", "video", .in, kbps: 1500.4)])),
            Participant(id: "p-kim", name: "Dr. Kim", role: "expert", subject: "kim", joinedAt: now.addingTimeInterval(-3700),
                        state: .connected, subscribe: connection([track("v9", "video", .out, kbps: 1490, from: "p-derm")])),
        ],
        cameras: [Camera(cameraId: "cam-9", cart: "p-derm", controller: nil, moving: false)])

    static let list = SessionList(generatedAt: now, sessions: [derm, stroke])
}
