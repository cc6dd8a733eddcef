import TestSupport
import Testing

@testable import RelaisSFU

@Suite("KeyframeDetector")
struct KeyframeDetectorTests {
    static func detect(_ codec: ForwardedCodec, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { KeyframeDetector.isKeyframeStart(codec: codec, payload: $0) }
    }

    /// VP8 key frame header after the payload descriptor (RFC 6386 §9.1, RFC 7741 §4.3):
    /// frame tag 0x10 0x02 0x00 (P = 0 key frame, version 0, show_frame 1, first partition size),
    /// start code 0x9D 0x01 0x2A, width 640 (0x0280 LE), height 480 (0x01E0 LE).
    static let vp8KeyHeader: [UInt8] = [0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]
    /// Inter frame tag: P = 1; no start code follows.
    static let vp8InterHeader: [UInt8] = [0x11, 0x02, 0x00, 0xAA, 0xBB, 0xCC, 0xDD]

    static let vp8Key: [[UInt8]] = [
        // X=0 R=0 N=0 S=1 R=0 PID=0
        [0x10] + vp8KeyHeader,
        // X=1 S=1 PID=0 | I=1 L=1 T=1 K=0 | M=1 PictureID=0x0123 (2 bytes) | TL0PICIDX=5 | TID=1 Y=0 KEYIDX=0
        [0x90, 0xE0, 0x81, 0x23, 0x05, 0x40] + vp8KeyHeader,
        // X=1 S=1 | I=1 only | M=0 PictureID=0x17 (1 byte)
        [0x90, 0x80, 0x17] + vp8KeyHeader,
        // X=1 S=1 | K=1 only | TID/Y/KEYIDX byte
        [0x90, 0x10, 0x03] + vp8KeyHeader,
    ]

    static let vp8NotKey: [[UInt8]] = [
        [0x10] + vp8InterHeader,  // P = 1
        [0x00] + vp8KeyHeader,  // S = 0: continuation of a partition
        [0x11] + vp8KeyHeader,  // S = 1 but PID = 1: not the first partition
        [0x10, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00],  // P = 0 but no start code
        [0x90, 0xE0, 0x81, 0x23, 0x05, 0x40] + vp8InterHeader,  // extended descriptor, P = 1
        // X=1 S=1 | I=1 | M=1 PictureID 0x0110 (2 bytes) | frame tag 0x11 (P = 1) ...
        // A detector reading a 1-byte PictureID would see tag 0x10 (P = 0) and the start code
        // three bytes later, and answer "key frame".
        [0x90, 0x80, 0x81, 0x10, 0x11, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01, 0x00],
    ]

    /// VP9 descriptor first byte bits: I P L F B E V Z.
    static let vp9Key: [[UInt8]] = [
        // I=1 B=1 | M=1 PictureID=0x0001 | payload byte
        [0x88, 0x80, 0x01, 0x82],
        // I=1 B=1 E=1 V=1 | M=0 PictureID=5 | SS: N_S=0 Y=1 G=0 | width 640 | height 480 | payload
        [0x8E, 0x05, 0x10, 0x02, 0x80, 0x01, 0xE0, 0x82],
        // I=1 B=1 V=1 | PictureID=5 | SS: N_S=1 Y=0 G=1 | N_G=2 | TID=0 U=0 R=1, P_DIFF 1 | TID=1 R=0 | payload
        [0x8A, 0x05, 0x28, 0x02, 0x04, 0x01, 0x20, 0x82],
        // I=1 L=1 B=1 (non-flexible) | PictureID=5 | TID=0 U=0 SID=0 D=0 | TL0PICIDX=0 | payload
        [0xA8, 0x05, 0x00, 0x00, 0x82],
        // L=1 F=1 B=1 (flexible: no TL0PICIDX) | SID=0 | payload
        [0x38, 0x00, 0x82],
    ]

    static let vp9NotKey: [[UInt8]] = [
        [0xC8, 0x80, 0x01, 0x82],  // P=1: predicted from an earlier picture
        [0x80, 0x80, 0x01, 0x82],  // B=0: not the start of a frame
        [0xA8, 0x05, 0x03, 0x00, 0x82],  // SID=1 D=1: upper spatial layer
        [0xA8, 0x05, 0x00, 0x00],  // descriptor with nothing after it
    ]

    /// H.264 NAL header: F(1) NRI(2) Type(5).
    static let h264Key: [[UInt8]] = [
        [0x65, 0x88, 0x84, 0x00],  // NRI=3 type 5: IDR slice
        [0x67, 0x42, 0xC0, 0x1F],  // type 7: SPS
        // STAP-A (0x78 = NRI 3, type 24): [size 4] SPS, [size 2] PPS, [size 3] IDR
        [0x78, 0x00, 0x04, 0x67, 0x42, 0xC0, 0x1F, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x03, 0x65, 0x88, 0x84],
        // STAP-A whose IDR is the second unit: [size 2] PPS, [size 2] IDR
        [0x78, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x02, 0x65, 0x88],
        // FU-A (0x7C = NRI 3, type 28), FU header S=1 E=0 type 5
        [0x7C, 0x85, 0x88, 0x84],
    ]

    static let h264NotKey: [[UInt8]] = [
        [0x41, 0x9A, 0x00],  // type 1: non-IDR slice
        [0x68, 0xCE, 0x3C],  // type 8: PPS alone
        [0xE5, 0x88],  // F=1: forbidden bit set
        [0x78, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x02, 0x41, 0x9A],  // STAP-A: PPS + non-IDR
        [0x78, 0x00, 0x09, 0x67, 0x42],  // STAP-A: size runs past the end
        [0x78, 0x00, 0x00, 0x67, 0x42],  // STAP-A: zero size
        [0x7C, 0x05, 0x88],  // FU-A middle fragment (S=0) of an IDR
        [0x7C, 0x81, 0x9A],  // FU-A start of a non-IDR slice
        [0x7D, 0x85],  // FU-B: not in non-interleaved mode
    ]

    @Test func codecNamesFromSDPAreCaseInsensitive() {
        #expect(ForwardedCodec(encodingName: "VP8") == .vp8)
        #expect(ForwardedCodec(encodingName: "vp9") == .vp9)
        #expect(ForwardedCodec(encodingName: "H264") == .h264)
        #expect(ForwardedCodec(encodingName: "OPUS") == .opus)
        #expect(ForwardedCodec(encodingName: "opus"[...]) == .opus)
        #expect(ForwardedCodec(encodingName: "rtx") == nil)
        #expect(ForwardedCodec(encodingName: "AV1") == nil)
    }

    @Test(arguments: [
        (ForwardedCodec.vp8, vp8Key, vp8NotKey), (.vp9, vp9Key, vp9NotKey), (.h264, h264Key, h264NotKey),
    ])
    func vectors(codec: ForwardedCodec, keys: [[UInt8]], notKeys: [[UInt8]]) {
        for (i, key) in keys.enumerated() {
            #expect(Self.detect(codec, key), "\(codec) key vector \(i)")
        }
        for (i, other) in notKeys.enumerated() {
            #expect(!Self.detect(codec, other), "\(codec) non-key vector \(i)")
        }
    }

    /// Every prefix of every vector is a truncated packet: no trap, and for VP8 and VP9 (whose
    /// keyframe test needs bytes past the descriptor) a "no".
    @Test(arguments: [ForwardedCodec.vp8, .vp9, .h264])
    func truncatedPayloadsNeverTrap(codec: ForwardedCodec) {
        let vectors: [[UInt8]] =
            switch codec {
            case .vp8: Self.vp8Key + Self.vp8NotKey
            case .vp9: Self.vp9Key + Self.vp9NotKey
            default: Self.h264Key + Self.h264NotKey
            }
        for vector in vectors {
            for length in 0..<vector.count {
                let answer = Self.detect(codec, Array(vector.prefix(length)))
                if codec != .h264 || length == 0 { #expect(!answer, "\(codec) prefix \(length) of \(vector)") }
            }
        }
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let count = Int(rng.next() % 24)
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for codec in [ForwardedCodec.vp8, .vp9, .h264, .opus] { _ = Self.detect(codec, bytes) }
        }
    }

    @Test func opusIsAlwaysDecodable() {
        #expect(Self.detect(.opus, [0xFC, 0xFF, 0xFE]))
        #expect(!ForwardedCodec.opus.needsKeyframe)
    }
}
