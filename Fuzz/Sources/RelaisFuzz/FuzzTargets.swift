/// The registry of fuzz targets. Each has its own corpus directory (Corpus/<name>) and its own
/// libFuzzer run; `run` must return for every input.
struct FuzzTarget: Sendable {
    let name: String
    /// Longest input worth trying (libFuzzer's -max_len): a UDP datagram for packet parsers,
    /// more for SDP and signaling text.
    let maxLength: Int
    /// Whether the code under test reads memory through unsafe pointers or C (libsrtp, OpenSSL):
    /// only there can AddressSanitizer find what a Swift trap would not. Pure-Swift targets (String
    /// and JSON parsing, negotiation) run twice as fast without it in a long campaign.
    let needsAddressSanitizer: Bool
    let run: @Sendable (UnsafeRawBufferPointer) -> Void
}

enum FuzzTargets {
    static let all: [FuzzTarget] = [
        FuzzTarget(name: "rtp", maxLength: 1500, needsAddressSanitizer: true, run: RTPFuzz.run),
        FuzzTarget(name: "rtcp", maxLength: 1500, needsAddressSanitizer: true, run: RTCPFuzz.run),
        FuzzTarget(name: "stun", maxLength: 1500, needsAddressSanitizer: true, run: STUNFuzz.run),
        FuzzTarget(name: "sdp", maxLength: 16384, needsAddressSanitizer: false, run: SDPFuzz.run),
        FuzzTarget(name: "publish-offer", maxLength: 16384, needsAddressSanitizer: false, run: NegotiationFuzz.runPublishOffer),
        FuzzTarget(name: "subscribe-answer", maxLength: 16384, needsAddressSanitizer: false, run: NegotiationFuzz.runSubscribeAnswer),
        FuzzTarget(name: "echo-offer", maxLength: 16384, needsAddressSanitizer: false, run: NegotiationFuzz.runEchoOffer),
        FuzzTarget(name: "signaling", maxLength: 16384, needsAddressSanitizer: false, run: SignalingFuzz.run),
        FuzzTarget(name: "camera", maxLength: 8192, needsAddressSanitizer: false, run: CameraFuzz.run),
        FuzzTarget(name: "srtp", maxLength: 1500, needsAddressSanitizer: true, run: SRTPFuzz.runRaw),
        FuzzTarget(name: "srtp-authentic", maxLength: 1500, needsAddressSanitizer: true, run: SRTPFuzz.runAuthentic),
        FuzzTarget(name: "dtls", maxLength: 4096, needsAddressSanitizer: true, run: DTLSFuzz.run),
    ]

    /// The target this process runs (set once by main before libFuzzer starts).
    nonisolated(unsafe) static var selected: @Sendable (UnsafeRawBufferPointer) -> Void = { _ in }
}

/// Reads an input as a little stream of choices, for targets whose first bytes pick a mode.
struct FuzzInput {
    var bytes: UnsafeRawBufferPointer
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The next byte, or 0 when the input is used up.
    mutating func byte() -> UInt8 {
        guard let first = bytes.first else { return 0 }
        bytes = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
        return first
    }

    var rest: UnsafeRawBufferPointer { bytes }
}
