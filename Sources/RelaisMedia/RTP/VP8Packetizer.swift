/// Splits encoded VP8 frames into RTP payloads (RFC 7741 §4).
///
/// Every payload starts with the payload descriptor of §4.2 that WebRTC peers expect. A frame
/// without a temporal layer gets 4 bytes:
///
/// ```
///  byte 0  |X|R|N|S|R| PID |   X = 1 (extension byte follows), N = 0, S = 1 only on the frame's
///                              first packet, PID = 0 (the whole frame is one run of partition 0)
///  byte 1  |I|L|T|K| RSV   |   I = 1 (PictureID present), L = T = K = 0
///  byte 2  |M| PictureID   |   M = 1: 15-bit PictureID, high 7 bits here
///  byte 3  |   PictureID   |   low 8 bits
/// ```
///
/// So the first packet of frame 0x1234 starts `90 80 92 34`, the others `80 80 92 34`. The
/// PictureID increments by one per frame, modulo 2^15 (RFC 7741 §4.2: it wraps to 0 after 0x7FFF).
///
/// A frame of a temporally scalable stream (``EncodedFrame/temporalLayer`` set) gets 6 bytes:
///
/// ```
///  byte 0  |X|R|N|S|R| PID |   as above
///  byte 1  |I|L|T|K| RSV   |   I = L = T = 1, K = 0: 0xE0
///  byte 2  |M| PictureID   |   as above
///  byte 3  |   PictureID   |
///  byte 4  |   TL0PICIDX   |   the stream's base layer picture index (below)
///  byte 5  |TID|Y| KEYIDX  |   TID = the temporal layer (0...3), Y = layer sync, KEYIDX = 0
/// ```
///
/// TL0PICIDX counts TL0 frames modulo 256: each TL0 frame carries the next value, the frames of
/// higher layers the value of the latest TL0 frame (so a receiver that drops layers can tell it
/// missed a base frame). The first packet of TL0 frame 0x1234 with TL0PICIDX 7 starts
/// `90 E0 92 34 07 20` (TID 0, Y = 1).
///
/// The frame is split into packets of nearly equal size (they differ by at most one byte), so the
/// last packet is not a tiny remainder; the RTP marker bit belongs on the last payload.
public struct VP8Packetizer: Sendable {
    /// Bytes of payload descriptor in every packet of a frame without a temporal layer.
    public static let descriptorLength = 4
    /// Bytes of payload descriptor in every packet of a frame with a temporal layer (adds
    /// TL0PICIDX and the TID/Y/KEYIDX byte).
    public static let temporalDescriptorLength = 6

    /// The descriptor length for frames with (`true`) or without a temporal layer.
    public static func descriptorLength(temporal: Bool) -> Int {
        temporal ? temporalDescriptorLength : descriptorLength
    }

    /// 1200-byte datagrams (the WebRTC default MTU budget) minus the 12-byte RTP header minus 16
    /// bytes for header extensions (abs-send-time and transport-wide sequence fit in 8).
    public static let defaultMaxPayload = 1200 - 12 - 16

    /// Largest RTP payload produced, descriptor included.
    public let maxPayload: Int
    /// PictureID of the next frame (15 bits).
    public private(set) var nextPictureID: UInt16
    /// TL0PICIDX of the latest TL0 frame, which frames of higher layers carry; the next TL0 frame
    /// carries this plus one (modulo 256).
    public private(set) var tl0PictureIndex: UInt8

    /// - Parameters:
    ///   - maxPayload: at least `descriptorLength + 1`; frames with a temporal layer need at least
    ///     `temporalDescriptorLength + 1`.
    ///   - initialPictureID: the first frame's PictureID (masked to 15 bits); senders usually start
    ///     at a random value.
    ///   - initialTL0PictureIndex: the starting ``tl0PictureIndex``: the first TL0 frame carries
    ///     this plus one.
    public init(
        maxPayload: Int = VP8Packetizer.defaultMaxPayload, initialPictureID: UInt16 = 0, initialTL0PictureIndex: UInt8 = 0
    ) {
        precondition(maxPayload > Self.descriptorLength, "a VP8 payload needs room for the descriptor and one byte")
        self.maxPayload = maxPayload
        self.nextPictureID = initialPictureID & 0x7FFF
        self.tl0PictureIndex = initialTL0PictureIndex
    }

    /// Number of packets a frame of `frameLength` bytes becomes (0 for an empty frame), with the
    /// 4-byte descriptor, or the 6-byte one when `temporal` (the frame has a temporal layer).
    public func packetCount(frameLength: Int, temporal: Bool = false) -> Int {
        guard frameLength > 0 else { return 0 }
        let room = maxPayload - Self.descriptorLength(temporal: temporal)
        precondition(room > 0, "maxPayload \(maxPayload) leaves no room for VP8 data after the descriptor")
        return (frameLength + room - 1) / room
    }

    /// The payloads of one frame without a temporal layer, in order; the last one takes the marker
    /// bit. An empty frame gives no payloads and does not consume a PictureID.
    public mutating func packetize(_ frame: [UInt8]) -> [[UInt8]] {
        packetize(frame, temporalLayer: nil, layerSync: false)
    }

    /// The payloads of one encoder frame, with the temporal fields when it has a temporal layer.
    public mutating func packetize(_ frame: EncodedFrame) -> [[UInt8]] {
        packetize(frame.data, temporalLayer: frame.temporalLayer, layerSync: frame.layerSync)
    }

    /// The payloads of one frame, in order; the last one takes the marker bit. With a
    /// `temporalLayer` (0...3) the descriptors carry TL0PICIDX, TID and Y (`layerSync`). An empty
    /// frame gives no payloads and consumes neither a PictureID nor a TL0PICIDX.
    public mutating func packetize(_ frame: [UInt8], temporalLayer: UInt8?, layerSync: Bool) -> [[UInt8]] {
        var payloads: [[UInt8]] = []
        frame.withUnsafeBytes { raw in
            payloads.reserveCapacity(packetCount(frameLength: raw.count, temporal: temporalLayer != nil))
            packetize(raw, temporalLayer: temporalLayer, layerSync: layerSync) { payload, _ in
                payloads.append(Array(payload))
            }
        }
        return payloads
    }

    /// Allocation-free variant for a frame without a temporal layer: calls `emit` once per payload
    /// with the bytes (valid only during the call) and whether it is the frame's last (marker)
    /// payload. Payloads are assembled in an internal stack buffer of `maxPayload` bytes.
    public mutating func packetize(
        _ frame: UnsafeRawBufferPointer, _ emit: (_ payload: UnsafeRawBufferPointer, _ marker: Bool) -> Void
    ) {
        packetize(frame, temporalLayer: nil, layerSync: false, emit)
    }

    /// Allocation-free variant: calls `emit` once per payload with the bytes (valid only during the
    /// call) and whether it is the frame's last (marker) payload. Payloads are assembled in an
    /// internal stack buffer of `maxPayload` bytes. With a `temporalLayer` (0...3) every payload
    /// has the 6-byte descriptor; a TL0 frame advances ``tl0PictureIndex`` first and carries the
    /// new value.
    public mutating func packetize(
        _ frame: UnsafeRawBufferPointer, temporalLayer: UInt8?, layerSync: Bool,
        _ emit: (_ payload: UnsafeRawBufferPointer, _ marker: Bool) -> Void
    ) {
        if let temporalLayer { precondition(temporalLayer <= 3, "TID is 2 bits, got \(temporalLayer)") }
        let count = packetCount(frameLength: frame.count, temporal: temporalLayer != nil)
        guard count > 0 else { return }
        let pictureID = nextPictureID
        nextPictureID = (nextPictureID &+ 1) & 0x7FFF
        if temporalLayer == 0 { tl0PictureIndex &+= 1 }
        let tl0PictureIndex = self.tl0PictureIndex
        let headerLength = Self.descriptorLength(temporal: temporalLayer != nil)
        // Nearly equal sizes: the first `extra` packets carry one byte more.
        let base = frame.count / count
        let extra = frame.count % count
        withUnsafeTemporaryAllocation(byteCount: maxPayload, alignment: 1) { scratch in
            var offset = 0
            for index in 0..<count {
                let size = base + (index < extra ? 1 : 0)
                if let temporalLayer {
                    Self.writeDescriptor(
                        into: scratch, start: index == 0, pictureID: pictureID, tl0PictureIndex: tl0PictureIndex,
                        temporalLayer: temporalLayer, layerSync: layerSync)
                } else {
                    Self.writeDescriptor(into: scratch, start: index == 0, pictureID: pictureID)
                }
                UnsafeMutableRawBufferPointer(rebasing: scratch[headerLength..<headerLength + size])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[offset..<offset + size]))
                offset += size
                emit(UnsafeRawBufferPointer(rebasing: scratch[0..<headerLength + size]), index == count - 1)
            }
        }
    }

    /// Writes the 4-byte descriptor at the start of `buffer` (which holds at least 4 bytes).
    public static func writeDescriptor(into buffer: UnsafeMutableRawBufferPointer, start: Bool, pictureID: UInt16) {
        precondition(buffer.count >= descriptorLength, "descriptor needs 4 bytes")
        buffer[0] = start ? 0x90 : 0x80  // X = 1, S on the first packet, PID = 0
        buffer[1] = 0x80  // I = 1
        buffer[2] = 0x80 | UInt8(truncatingIfNeeded: (pictureID & 0x7FFF) >> 8)  // M = 1
        buffer[3] = UInt8(truncatingIfNeeded: pictureID)
    }

    /// Writes the 6-byte descriptor of a frame with a temporal layer at the start of `buffer`
    /// (which holds at least 6 bytes): I = L = T = 1, K = 0, then the 15-bit PictureID,
    /// TL0PICIDX, and |TID|Y|KEYIDX = 0|.
    public static func writeDescriptor(
        into buffer: UnsafeMutableRawBufferPointer, start: Bool, pictureID: UInt16, tl0PictureIndex: UInt8,
        temporalLayer: UInt8, layerSync: Bool
    ) {
        precondition(buffer.count >= temporalDescriptorLength, "descriptor needs 6 bytes")
        buffer[0] = start ? 0x90 : 0x80  // X = 1, S on the first packet, PID = 0
        buffer[1] = 0xE0  // I = L = T = 1, K = 0
        buffer[2] = 0x80 | UInt8(truncatingIfNeeded: (pictureID & 0x7FFF) >> 8)  // M = 1
        buffer[3] = UInt8(truncatingIfNeeded: pictureID)
        buffer[4] = tl0PictureIndex
        buffer[5] = (temporalLayer & 0x03) << 6 | (layerSync ? 0x20 : 0)  // KEYIDX = 0
    }
}
