import COpus

/// A libopus decoder at 48 kHz producing interleaved 16-bit PCM.
///
/// Accepts any valid Opus packet (2.5 to 120 ms). A nil (or empty) packet asks for packet loss
/// concealment covering the duration of the last decoded packet (20 ms before the first one).
/// Malformed packets throw ``CodecError``. Not thread-safe and not `Sendable`.
public final class OpusDecoder {
    public static let sampleRate: Int32 = 48_000
    /// 120 ms at 48 kHz: the longest an Opus packet can last.
    static let maxSamplesPerChannel = 5760
    /// Packets larger than this are rejected (the largest valid packet is 48 frames of 1275 bytes).
    public static let maxPacketBytes = 61_440

    public let channels: Int
    private let decoder: OpaquePointer
    private var lastSamplesPerChannel = 960
    private var output: [Int16]

    /// - Parameter channels: 1 or 2: the output layout (libopus up/down-mixes as needed).
    public init(channels: Int = 1) throws(CodecError) {
        guard channels == 1 || channels == 2 else { throw .invalidArgument("Opus channels \(channels) must be 1 or 2") }
        var err: Int32 = OPUS_OK
        guard let decoder = opus_decoder_create(Self.sampleRate, Int32(channels), &err), err == OPUS_OK else {
            throw .opus("opus_decoder_create", err == OPUS_OK ? OPUS_ALLOC_FAIL : err)
        }
        self.channels = channels
        self.decoder = decoder
        self.output = [Int16](repeating: 0, count: Self.maxSamplesPerChannel * channels)
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Decodes a packet, or conceals a lost one when `packet` is nil or empty.
    /// - Returns: interleaved samples (samples per channel x channels).
    public func decode(_ packet: [UInt8]?) throws(CodecError) -> [Int16] {
        let decoder = self.decoder
        let samples: Int32
        if let packet, !packet.isEmpty {
            guard packet.count <= Self.maxPacketBytes else {
                throw .invalidArgument("Opus packet of \(packet.count) bytes exceeds \(Self.maxPacketBytes)")
            }
            let expected = packet.withUnsafeBufferPointer { p in
                opus_decoder_get_nb_samples(decoder, p.baseAddress!, Int32(p.count))
            }
            guard expected > 0 else { throw .opus("opus_decoder_get_nb_samples", expected < 0 ? expected : OPUS_INVALID_PACKET) }
            guard expected <= Self.maxSamplesPerChannel else { throw .opus("opus_decoder_get_nb_samples", OPUS_INVALID_PACKET) }
            samples = packet.withUnsafeBufferPointer { p in
                output.withUnsafeMutableBufferPointer { out in
                    opus_decode(decoder, p.baseAddress, Int32(p.count), out.baseAddress!, Int32(Self.maxSamplesPerChannel), 0)
                }
            }
            guard samples > 0 else { throw .opus("opus_decode", samples < 0 ? samples : OPUS_INVALID_PACKET) }
            lastSamplesPerChannel = Int(samples)
        } else {
            let frame = Int32(lastSamplesPerChannel)
            samples = output.withUnsafeMutableBufferPointer { out in
                opus_decode(decoder, nil, 0, out.baseAddress!, frame, 0)
            }
            guard samples > 0 else { throw .opus("opus_decode (concealment)", samples < 0 ? samples : OPUS_INTERNAL_ERROR) }
        }
        return Array(output[0..<(Int(samples) * channels)])
    }
}
