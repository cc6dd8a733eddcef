import RelaisWire

/// The Opus RTP payload format (RFC 7587): one Opus packet (RFC 6716) per RTP payload, nothing
/// added or removed, so packetizing is the identity. The RTP clock is always 48 kHz whatever the
/// codec's internal sampling rate (§4.1), the SDP is `opus/48000/2`, and the timestamp advances by
/// the packet's duration in 48 kHz samples (960 for the usual 20 ms). The marker bit is set on the
/// first packet after DTX silence (§4.2), otherwise clear.
public enum OpusPayload {
    public static let clockRate: UInt32 = 48_000
    /// Channel count in the rtpmap, always 2 (§7): the stream may still be mono.
    public static let rtpmapChannels = 2

    /// The RTP payload for an Opus packet: the packet itself.
    public static func payload(for opusPacket: [UInt8]) -> [UInt8] { opusPacket }

    /// RTP timestamp increment for a packet of `duration` (e.g. 20 ms → 960).
    public static func timestampIncrement(for duration: Duration) -> UInt32 {
        UInt32(truncatingIfNeeded: duration.nanosecondsClamped * UInt64(clockRate) / 1_000_000_000)
    }

    /// Samples at 48 kHz in one Opus packet, from its TOC byte and frame count (RFC 6716 §3.1–3.2),
    /// or nil for an empty or malformed packet (code 3 without its count byte, or over 120 ms).
    public static func sampleCount(of packet: UnsafeRawBufferPointer) -> Int? {
        guard let toc = packet.first else { return nil }
        let config = Int(toc >> 3)
        let perFrame: Int
        switch config {
        case 0...11:  // SILK: 10, 20, 40, 60 ms
            perFrame = [480, 960, 1920, 2880][config & 3]
        case 12...15:  // hybrid: 10, 20 ms
            perFrame = [480, 960][config & 1]
        default:  // CELT: 2.5, 5, 10, 20 ms
            perFrame = [120, 240, 480, 960][config & 3]
        }
        let frames: Int
        switch toc & 0x03 {
        case 0: frames = 1
        case 1, 2: frames = 2
        default:
            guard packet.count >= 2 else { return nil }
            frames = Int(packet[1] & 0x3F)
            guard frames >= 1 else { return nil }
        }
        let total = perFrame * frames
        return total <= 5760 ? total : nil  // §3.2.5: at most 120 ms
    }
}
