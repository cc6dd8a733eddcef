/// The payload formats the relay forwards and looks into (only far enough to find keyframes).
public enum ForwardedCodec: Sendable, Hashable {
    case opus, vp8, vp9, h264

    /// From an SDP `a=rtpmap` encoding name (RFC 8866 §6.6), which is case-insensitive
    /// (RFC 4855 §3: media subtype names are); nil for codecs the relay does not forward.
    public init?(encodingName: some StringProtocol) {
        switch encodingName.lowercased() {
        case "opus": self = .opus
        case "vp8": self = .vp8
        case "vp9": self = .vp9
        case "h264": self = .h264
        default: return nil
        }
    }

    /// Whether a receiver can start decoding mid-stream only at a keyframe.
    public var needsKeyframe: Bool { self != .opus }
}

/// Finds the packets where a subscriber can start decoding: the first packet of a keyframe.
///
/// The relay starts (and after a source switch, restarts) a video down track only at such a packet,
/// so a subscriber never feeds its decoder a frame that references pictures it does not have. A
/// false "yes" shows garbage until the next keyframe; a false "no" delays the start by one
/// keyframe interval, so every check here errs towards "no". Payloads come from the network: short
/// or malformed ones answer false and never trap.
public enum KeyframeDetector {
    /// True when `payload` (the RTP payload, after header, extensions and padding) starts a frame
    /// a decoder can begin with. Opus has no inter-frame dependency, so every packet qualifies.
    public static func isKeyframeStart(codec: ForwardedCodec, payload: UnsafeRawBufferPointer) -> Bool {
        switch codec {
        case .opus: return true
        case .vp8: return isVP8KeyframeStart(payload)
        case .vp9: return isVP9KeyframeStart(payload)
        case .h264: return isH264KeyframeStart(payload)
        }
    }

    /// RFC 7741 §4.2 payload descriptor, then the VP8 payload header of §4.3: the frame starts at
    /// S = 1, PID = 0, and a key frame's uncompressed header (frame tag with P = 0, start code
    /// 0x9D 0x01 0x2A, dimensions; RFC 6386 §9.1) follows the descriptor whole. Requiring the start
    /// code and dimensions turns random bytes with a clear P bit, or a truncated key frame, into a
    /// "no". `VP8PayloadDescriptor` reads all of it (the one VP8 descriptor parser).
    static func isVP8KeyframeStart(_ p: UnsafeRawBufferPointer) -> Bool {
        VP8PayloadDescriptor(parsing: p)?.keyframeWidth != nil
    }

    /// draft-ietf-payload-vp9-16 §4.2 payload descriptor.
    ///
    /// ```
    ///  |I|P|L|F|B|E|V|Z|   B: start of a frame, P: inter-picture predicted
    ///  |M| PICTURE ID  |   (if I; a second byte if M)
    ///  |TID|U| SID |D  |   (if L)
    ///  |   TL0PICIDX   |   (if L and not F)
    ///  |N_S|Y|G|-|-|-|-|   (if V: scalability structure, then Y and G data)
    /// ```
    ///
    /// A frame a decoder can start with begins (B) and predicts from no earlier picture (P = 0).
    /// With spatial layers only the base layer (SID 0) qualifies, since upper layers of a key
    /// picture predict from the layer below. The descriptor, scalability structure included, must fit
    /// in the payload with at least one byte of frame after it.
    static func isVP9KeyframeStart(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 1 else { return false }
        let b0 = p[0]
        let hasPictureID = b0 & 0x80 != 0
        let interPredicted = b0 & 0x40 != 0
        let hasLayers = b0 & 0x20 != 0
        let flexible = b0 & 0x10 != 0
        let beginsFrame = b0 & 0x08 != 0
        guard beginsFrame, !interPredicted else { return false }
        var offset = 1
        if hasPictureID {
            guard p.count > offset else { return false }
            offset += p[offset] & 0x80 != 0 ? 2 : 1
        }
        if hasLayers {
            guard p.count > offset else { return false }
            let spatialID = (p[offset] >> 1) & 0x07
            guard spatialID == 0 else { return false }
            offset += flexible ? 1 : 2
        }
        // P = 0, so no P_DIFF bytes (§4.2: they exist only when F = 1 and P = 1).
        if b0 & 0x02 != 0 {  // V: scalability structure (§4.2.1)
            guard p.count > offset else { return false }
            let ss = p[offset]
            offset += 1
            let spatialLayers = Int(ss >> 5) + 1
            if ss & 0x10 != 0 { offset += 4 * spatialLayers }  // Y: width and height per layer
            if ss & 0x08 != 0 {  // G: picture group description
                guard p.count > offset else { return false }
                let pictures = Int(p[offset])
                offset += 1
                for _ in 0..<pictures {
                    guard p.count > offset else { return false }
                    let references = Int((p[offset] >> 2) & 0x03)
                    offset += 1 + references
                }
            }
        }
        return p.count > offset
    }

    /// RFC 6184 §5.2–5.8: a single NAL unit, a STAP-A aggregate, or an FU-A fragment.
    ///
    /// ```
    ///  |F|NRI|  Type   |   NAL unit header (§1.3); F must be 0
    ///  Type 5: IDR slice, 7: SPS, 24: STAP-A, 28: FU-A
    ///  STAP-A: header, then (16-bit size, NAL unit)+
    ///  FU-A:   header, then |S|E|R| Type | (S: first fragment, Type: the fragmented unit's)
    /// ```
    ///
    /// A decoder can start at an IDR slice or at the SPS that precedes it (senders put SPS, PPS and
    /// IDR in one STAP-A or send SPS first).
    static func isH264KeyframeStart(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 1, p[0] & 0x80 == 0 else { return false }
        switch p[0] & 0x1F {
        case 5, 7:
            return true
        case 24:  // STAP-A
            var offset = 1
            while offset + 2 <= p.count {
                let size = Int(p[offset]) << 8 | Int(p[offset + 1])
                offset += 2
                guard size > 0, offset + size <= p.count else { return false }
                let header = p[offset]
                let type = header & 0x1F
                if header & 0x80 == 0, type == 5 || type == 7 { return true }
                offset += size
            }
            return false
        case 28:  // FU-A
            guard p.count >= 2 else { return false }
            let fu = p[1]
            let startsUnit = fu & 0x80 != 0
            let type = fu & 0x1F
            return startsUnit && (type == 5 || type == 7)
        default:
            return false
        }
    }
}
