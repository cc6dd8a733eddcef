/// Splits encoded VP8 frames into RTP payloads (RFC 7741 §4).
///
/// Every payload starts with the 4-byte payload descriptor of §4.2 that WebRTC peers expect:
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
/// The frame is split into packets of nearly equal size (they differ by at most one byte), so the
/// last packet is not a tiny remainder; the RTP marker bit belongs on the last payload.
public struct VP8Packetizer: Sendable {
    /// Bytes of payload descriptor in every packet this packetizer writes.
    public static let descriptorLength = 4

    /// 1200-byte datagrams (the WebRTC default MTU budget) minus the 12-byte RTP header minus 16
    /// bytes for header extensions (abs-send-time and transport-wide sequence fit in 8).
    public static let defaultMaxPayload = 1200 - 12 - 16

    /// Largest RTP payload produced, descriptor included.
    public let maxPayload: Int
    /// PictureID of the next frame (15 bits).
    public private(set) var nextPictureID: UInt16

    /// - Parameters:
    ///   - maxPayload: at least `descriptorLength + 1`.
    ///   - initialPictureID: the first frame's PictureID (masked to 15 bits); senders usually start
    ///     at a random value.
    public init(maxPayload: Int = VP8Packetizer.defaultMaxPayload, initialPictureID: UInt16 = 0) {
        precondition(maxPayload > Self.descriptorLength, "a VP8 payload needs room for the descriptor and one byte")
        self.maxPayload = maxPayload
        self.nextPictureID = initialPictureID & 0x7FFF
    }

    /// Number of packets a frame of `frameLength` bytes becomes (0 for an empty frame).
    public func packetCount(frameLength: Int) -> Int {
        guard frameLength > 0 else { return 0 }
        let room = maxPayload - Self.descriptorLength
        return (frameLength + room - 1) / room
    }

    /// The payloads of one frame, in order; the last one takes the marker bit. An empty frame gives
    /// no payloads and does not consume a PictureID.
    public mutating func packetize(_ frame: [UInt8]) -> [[UInt8]] {
        var payloads: [[UInt8]] = []
        frame.withUnsafeBytes { raw in
            payloads.reserveCapacity(packetCount(frameLength: raw.count))
            packetize(raw) { payload, _ in payloads.append(Array(payload)) }
        }
        return payloads
    }

    /// Allocation-free variant: calls `emit` once per payload with the bytes (valid only during the
    /// call) and whether it is the frame's last (marker) payload. Payloads are assembled in an
    /// internal stack buffer of `maxPayload` bytes.
    public mutating func packetize(
        _ frame: UnsafeRawBufferPointer, _ emit: (_ payload: UnsafeRawBufferPointer, _ marker: Bool) -> Void
    ) {
        let count = packetCount(frameLength: frame.count)
        guard count > 0 else { return }
        let pictureID = nextPictureID
        nextPictureID = (nextPictureID &+ 1) & 0x7FFF
        // Nearly equal sizes: the first `extra` packets carry one byte more.
        let base = frame.count / count
        let extra = frame.count % count
        withUnsafeTemporaryAllocation(byteCount: maxPayload, alignment: 1) { scratch in
            var offset = 0
            for index in 0..<count {
                let size = base + (index < extra ? 1 : 0)
                Self.writeDescriptor(into: scratch, start: index == 0, pictureID: pictureID)
                UnsafeMutableRawBufferPointer(rebasing: scratch[Self.descriptorLength..<Self.descriptorLength + size])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[offset..<offset + size]))
                offset += size
                emit(UnsafeRawBufferPointer(rebasing: scratch[0..<Self.descriptorLength + size]), index == count - 1)
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
}
