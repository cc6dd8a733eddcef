import COpus

/// A libopus encoder at 48 kHz for 20 ms frames (960 samples per channel), application VOIP.
///
/// Bitrate is libopus's default (`OPUS_AUTO`; measured about 52 kbit/s mono and 101 kbit/s stereo
/// for a 440 Hz tone in 20 ms frames): setting it needs `opus_encoder_ctl(enc, OPUS_SET_BITRATE(n))`, which is variadic and so
/// not callable from Swift, and the COpus shim has no non-variadic wrapper for it.
/// Not thread-safe and not `Sendable`: own it from one task or actor.
public final class OpusEncoder {
    public static let sampleRate: Int32 = 48_000
    /// Samples per channel in one 20 ms frame.
    public static let samplesPerFrame = 960
    /// Largest packet libopus produces for one frame is 1275 bytes; a little headroom.
    static let maxPacketBytes = 1500

    public let channels: Int
    private let encoder: OpaquePointer
    private var output = [UInt8](repeating: 0, count: OpusEncoder.maxPacketBytes)

    /// - Parameter channels: 1 (mono) or 2 (stereo, interleaved PCM).
    public init(channels: Int = 1) throws(CodecError) {
        guard channels == 1 || channels == 2 else { throw .invalidArgument("Opus channels \(channels) must be 1 or 2") }
        var err: Int32 = OPUS_OK
        guard let encoder = opus_encoder_create(Self.sampleRate, Int32(channels), OPUS_APPLICATION_VOIP, &err), err == OPUS_OK else {
            throw .opus("opus_encoder_create", err == OPUS_OK ? OPUS_ALLOC_FAIL : err)
        }
        self.channels = channels
        self.encoder = encoder
    }

    deinit { opus_encoder_destroy(encoder) }

    /// Encodes one 20 ms frame: `pcm` holds 960 x channels interleaved samples.
    public func encode(pcm: [Int16]) throws(CodecError) -> [UInt8] {
        guard pcm.count == Self.samplesPerFrame * channels else {
            throw .invalidArgument("Opus frame needs \(Self.samplesPerFrame * channels) samples, got \(pcm.count)")
        }
        let encoder = self.encoder
        let length: Int32 = pcm.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                opus_encode(encoder, input.baseAddress!, Int32(Self.samplesPerFrame), out.baseAddress!, Int32(out.count))
            }
        }
        guard length > 0 else { throw .opus("opus_encode", length) }
        return Array(output[0..<Int(length)])
    }
}
