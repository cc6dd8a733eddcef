/// The fields of a VP8 RTP payload descriptor (RFC 7741 §4.2) the relay reads and rewrites.
///
/// ```
///  |X|R|N|S|R| PID |   S: start of a partition, PID: partition index
///  |I|L|T|K| RSV   |   (if X)
///  |M| PictureID   |   (if I; a second byte if M: 15 bits)
///  |   TL0PICIDX   |   (if L)
///  |TID|Y| KEYIDX  |   (if T or K)
/// ```
///
/// A receiver (libwebrtc's VP8 reference finder) orders frames by picture ID and temporal layer
/// zero index; when the relay switches a subscriber from one simulcast layer to another, each with
/// its own numbering, both must continue where the previous layer left off or the decoder drops the
/// new layer's keyframe as older than what it decoded. Parsing never traps: a short or malformed
/// descriptor is nil and the packet is forwarded untouched.
public struct VP8PayloadDescriptor: Sendable, Equatable {
    /// Picture ID (7 or 15 bits) and the byte offset of its first byte in the payload.
    public var pictureID: UInt16?
    public var pictureIDIs15Bit = false
    var pictureIDOffset = 0
    /// TL0PICIDX, and its offset.
    public var tl0PicIdx: UInt8?
    var tl0PicIdxOffset = 0
    /// Temporal layer index (TID), when T is set.
    public var temporalLayer: UInt8?
    /// Start of a frame: S = 1 and partition index 0.
    public var startsFrame: Bool
    /// Keyframe dimensions (RFC 6386 §9.1), when this packet starts a keyframe.
    public var keyframeWidth: Int?
    public var keyframeHeight: Int?

    /// Parses the descriptor at the start of `payload`; nil when it does not fit.
    public init?(parsing p: UnsafeRawBufferPointer) {
        guard p.count >= 1 else { return nil }
        let b0 = p[0]
        startsFrame = b0 & 0x10 != 0 && b0 & 0x07 == 0
        var offset = 1
        if b0 & 0x80 != 0 {
            guard p.count > offset else { return nil }
            let x = p[offset]
            offset += 1
            if x & 0x80 != 0 {
                guard p.count > offset else { return nil }
                pictureIDOffset = offset
                if p[offset] & 0x80 != 0 {
                    guard p.count > offset + 1 else { return nil }
                    pictureID = UInt16(p[offset] & 0x7F) << 8 | UInt16(p[offset + 1])
                    pictureIDIs15Bit = true
                    offset += 2
                } else {
                    pictureID = UInt16(p[offset])
                    offset += 1
                }
            }
            if x & 0x40 != 0 {
                guard p.count > offset else { return nil }
                tl0PicIdx = p[offset]
                tl0PicIdxOffset = offset
                offset += 1
            }
            if x & 0x30 != 0 {
                guard p.count > offset else { return nil }
                if x & 0x20 != 0 { temporalLayer = p[offset] >> 6 }
                offset += 1
            }
        }
        // A keyframe's header: frame tag (P = 0), start code 9D 01 2A, then 14-bit width and height.
        if startsFrame, p.count >= offset + 10, p[offset] & 0x01 == 0,
           p[offset + 3] == 0x9D, p[offset + 4] == 0x01, p[offset + 5] == 0x2A {
            keyframeWidth = (Int(p[offset + 6]) | Int(p[offset + 7]) << 8) & 0x3FFF
            keyframeHeight = (Int(p[offset + 8]) | Int(p[offset + 9]) << 8) & 0x3FFF
        }
    }

    /// Writes `pictureID` (in the descriptor's own width) and `tl0PicIdx` where this descriptor has
    /// them; `payload` must be the one it was parsed from.
    public func write(pictureID newPictureID: UInt16, tl0PicIdx newTL0: UInt8, into payload: UnsafeMutableRawBufferPointer) {
        if pictureID != nil {
            if pictureIDIs15Bit {
                payload[pictureIDOffset] = 0x80 | UInt8(truncatingIfNeeded: newPictureID >> 8) & 0x7F
                payload[pictureIDOffset + 1] = UInt8(truncatingIfNeeded: newPictureID)
            } else {
                payload[pictureIDOffset] = UInt8(truncatingIfNeeded: newPictureID) & 0x7F
            }
        }
        if tl0PicIdx != nil { payload[tl0PicIdxOffset] = newTL0 }
    }
}

/// Keeps a subscriber's VP8 picture IDs and TL0PICIDX continuous across source epochs (layer
/// switches, publisher restarts), as mediasoup's and Jitsi's VP8 rewriting do: within an epoch the
/// output is the input plus a fixed offset; a new epoch's first picture follows the last one sent.
public struct VP8PictureContinuity: Sendable {
    private var pictureIDOffset: UInt16 = 0
    private var tl0Offset: UInt8 = 0
    private var hasOutput = false
    private var lastPictureID: UInt16 = 0
    private var lastTL0: UInt8 = 0

    public init() {}

    /// The first packet of a new source epoch: its picture follows the last one forwarded.
    public mutating func beginEpoch(first descriptor: VP8PayloadDescriptor) {
        guard hasOutput else { return }
        if let id = descriptor.pictureID { pictureIDOffset = (lastPictureID &+ 1) &- id }
        if let tl0 = descriptor.tl0PicIdx { tl0Offset = (lastTL0 &+ 1) &- tl0 }
    }

    /// Rewrites the descriptor in `payload` for the output; `newest` marks the newest packet sent so
    /// far (a retransmission or a reordered packet does not move the epoch's last picture).
    public mutating func rewrite(_ descriptor: VP8PayloadDescriptor, in payload: UnsafeMutableRawBufferPointer, newest: Bool) {
        let mask: UInt16 = descriptor.pictureIDIs15Bit ? 0x7FFF : 0x7F
        let picture = (descriptor.pictureID ?? 0) &+ pictureIDOffset
        let tl0 = (descriptor.tl0PicIdx ?? 0) &+ tl0Offset
        if pictureIDOffset != 0 || tl0Offset != 0 { descriptor.write(pictureID: picture & mask, tl0PicIdx: tl0, into: payload) }
        guard newest else { return }
        hasOutput = true
        if descriptor.pictureID != nil { lastPictureID = picture & 0x7FFF }
        if descriptor.tl0PicIdx != nil { lastTL0 = tl0 }
    }
}
