import COpus

/// A libopus encoder at 48 kHz for 20 ms frames (960 samples per channel), application VOIP.
///
/// Bitrate starts at libopus's default (`OPUS_AUTO`; measured about 52 kbit/s mono and 101 kbit/s
/// stereo for a 440 Hz tone in 20 ms frames); `setBitrate` and `setExpectedLoss` reach
/// `opus_encoder_ctl`, which is variadic, through the COpus shim's fixed-signature wrappers.
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

    /// The encoder's target in bits per second (`OPUS_GET_BITRATE`).
    public var bitrate: Int {
        var value: Int32 = 0
        return relais_opus_get_bitrate(encoder, &value) == OPUS_OK ? Int(value) : 0
    }

    /// Sets the target bitrate (`OPUS_SET_BITRATE`): 6 to 510 kbit/s, libopus's range.
    public func setBitrate(_ bitsPerSecond: Int) throws(CodecError) {
        guard (6_000...510_000).contains(bitsPerSecond) else { throw .invalidArgument("Opus bitrate \(bitsPerSecond) outside 6000...510000") }
        let err = relais_opus_set_bitrate(encoder, Int32(bitsPerSecond))
        guard err == OPUS_OK else { throw .opus("OPUS_SET_BITRATE", err) }
    }

    /// In-band FEC for the loss the receiver reports (`OPUS_SET_INBAND_FEC`, `OPUS_SET_PACKET_LOSS_PERC`):
    /// at a percentage above zero the encoder spends bits on redundancy the decoder can recover from.
    public func setExpectedLoss(percentage: Int) throws(CodecError) {
        let clamped = Int32(min(max(percentage, 0), 100))
        var err = relais_opus_set_inband_fec(encoder, clamped > 0 ? 1 : 0)
        if err == OPUS_OK { err = relais_opus_set_packet_loss_percentage(encoder, clamped) }
        guard err == OPUS_OK else { throw .opus("OPUS_SET_PACKET_LOSS_PERC", err) }
    }

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
