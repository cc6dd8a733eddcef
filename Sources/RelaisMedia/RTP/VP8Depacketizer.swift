public import RelaisWire

/// Why an RTP payload is not a usable VP8 payload (RFC 7741). Payloads come from the network:
/// every malformed input ends up here, nothing traps.
public enum VP8PayloadError: Error, Equatable, Sendable {
    /// The descriptor's own flags promise more bytes than the payload has.
    case truncatedDescriptor(needed: Int, have: Int)
    /// A descriptor with no VP8 data after it (RFC 7741 §4.1: a packet carries at least one byte).
    case noFrameData
    /// The frame would exceed the assembler's size limit.
    case frameTooLarge(limit: Int)
}

/// The VP8 payload descriptor (RFC 7741 §4.2), all optional fields decoded.
///
/// ```
///  |X|R|N|S|R| PID |   X: extension byte follows, N: non-reference frame, S: start of a partition
///  |I|L|T|K| RSV   |   (X) I: PictureID, L: TL0PICIDX, T: TID, K: KEYIDX present
///  |M| PictureID   |   (I) M = 1: 15-bit PictureID (a second byte follows)
///  |   PictureID   |   (I and M)
///  |   TL0PICIDX   |   (L)
///  |TID|Y| KEYIDX  |   (T or K)
/// ```
public struct VP8PayloadDescriptor: Equatable, Sendable {
    public enum PictureID: Equatable, Sendable {
        case sevenBit(UInt8)
        case fifteenBit(UInt16)

        public var value: UInt16 {
            switch self {
            case .sevenBit(let v): UInt16(v)
            case .fifteenBit(let v): v
            }
        }
    }

    public var nonReference: Bool
    public var startOfPartition: Bool
    public var partitionIndex: UInt8
    public var pictureID: PictureID?
    public var tl0PictureIndex: UInt8?
    /// TID, present when T = 1.
    public var temporalLayer: UInt8?
    /// Y (layer sync), meaningful when T = 1.
    public var layerSync: Bool
    /// KEYIDX, present when K = 1.
    public var keyIndex: UInt8?
    /// Bytes of descriptor before the VP8 payload.
    public var length: Int

    /// S = 1 and PID = 0: the first packet of a frame.
    public var isFrameStart: Bool { startOfPartition && partitionIndex == 0 }

    /// Parses the descriptor at the start of `payload`; requires at least one byte of VP8 data
    /// after it.
    public init(parsing payload: UnsafeRawBufferPointer) throws(VP8PayloadError) {
        let count = payload.count
        guard count >= 1 else { throw .truncatedDescriptor(needed: 1, have: 0) }
        let b0 = payload[0]
        nonReference = b0 & 0x20 != 0
        startOfPartition = b0 & 0x10 != 0
        partitionIndex = b0 & 0x07
        pictureID = nil
        tl0PictureIndex = nil
        temporalLayer = nil
        layerSync = false
        keyIndex = nil
        var offset = 1
        if b0 & 0x80 != 0 {
            guard count > offset else { throw .truncatedDescriptor(needed: offset + 1, have: count) }
            let x = payload[offset]
            offset += 1
            if x & 0x80 != 0 {
                guard count > offset else { throw .truncatedDescriptor(needed: offset + 1, have: count) }
                let m = payload[offset]
                if m & 0x80 != 0 {
                    guard count > offset + 1 else { throw .truncatedDescriptor(needed: offset + 2, have: count) }
                    pictureID = .fifteenBit(UInt16(m & 0x7F) << 8 | UInt16(payload[offset + 1]))
                    offset += 2
                } else {
                    pictureID = .sevenBit(m)
                    offset += 1
                }
            }
            if x & 0x40 != 0 {
                guard count > offset else { throw .truncatedDescriptor(needed: offset + 1, have: count) }
                tl0PictureIndex = payload[offset]
                offset += 1
            }
            if x & 0x30 != 0 {
                guard count > offset else { throw .truncatedDescriptor(needed: offset + 1, have: count) }
                let b = payload[offset]
                if x & 0x20 != 0 {
                    temporalLayer = b >> 6
                    layerSync = b & 0x20 != 0
                }
                if x & 0x10 != 0 { keyIndex = b & 0x1F }
                offset += 1
            }
        }
        guard count > offset else { throw .noFrameData }
        length = offset
    }

    public init(parsing payload: [UInt8]) throws(VP8PayloadError) {
        let result: Result<VP8PayloadDescriptor, VP8PayloadError> = payload.withUnsafeBytes { raw in
            do throws(VP8PayloadError) {
                return .success(try VP8PayloadDescriptor(parsing: raw))
            } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    /// On a frame's first packet: whether the VP8 payload header (RFC 7741 §4.3, the frame tag of
    /// RFC 6386 §9.1) marks a key frame, i.e. its P bit (bit 0 of the first byte) is 0. `payload`
    /// is the whole RTP payload this descriptor was parsed from.
    public func isKeyframe(in payload: UnsafeRawBufferPointer) -> Bool {
        isFrameStart && payload.count > length && payload[length] & 0x01 == 0
    }
}

/// One reassembled VP8 frame.
public struct VP8Frame: Equatable, Sendable {
    /// The encoded frame, descriptors stripped: what a VP8 decoder takes.
    public var bytes: [UInt8]
    public var isKeyframe: Bool
    /// PictureID of the frame's first packet, if it had one.
    public var pictureID: UInt16?
    public var rtpTimestamp: UInt32

    public init(bytes: [UInt8], isKeyframe: Bool, pictureID: UInt16?, rtpTimestamp: UInt32) {
        self.bytes = bytes
        self.isKeyframe = isKeyframe
        self.pictureID = pictureID
        self.rtpTimestamp = rtpTimestamp
    }
}

/// Joins the payloads of one VP8 frame: same RTP timestamp, consecutive sequence numbers, from the
/// packet with S = 1 and PID = 0 to the one with the marker bit.
///
/// Fed in sequence order (by `JitterBuffer`, or straight from a lossless transport). A packet that
/// does not continue the frame in progress (sequence gap, new timestamp) abandons it and counts it
/// in `framesAbandoned`; packets before a frame start are counted in `packetsDiscarded`. Malformed
/// descriptors throw and also abandon the frame in progress.
public struct VP8FrameAssembler: Sendable {
    /// Upper bound on one frame's size, so a stream that never sets the marker cannot grow memory.
    public let maxFrameBytes: Int

    private var buffer: [UInt8] = []
    private var inProgress = false
    private var timestamp: UInt32 = 0
    private var lastSequence = SequenceNumber(0)
    private var isKeyframe = false
    private var pictureID: UInt16?

    public private(set) var framesAssembled = 0
    public private(set) var framesAbandoned = 0
    public private(set) var packetsDiscarded = 0

    public init(maxFrameBytes: Int = 4 << 20) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Adds one packet's payload; returns the frame when this packet completes it.
    public mutating func push(
        payload: UnsafeRawBufferPointer, sequenceNumber: SequenceNumber, timestamp: UInt32, marker: Bool
    ) throws(VP8PayloadError) -> VP8Frame? {
        let descriptor: VP8PayloadDescriptor
        do {
            descriptor = try VP8PayloadDescriptor(parsing: payload)
        } catch {
            abandon()
            packetsDiscarded += 1
            throw error
        }
        if descriptor.isFrameStart {
            abandon()
            inProgress = true
            buffer.removeAll(keepingCapacity: true)
            self.timestamp = timestamp
            isKeyframe = descriptor.isKeyframe(in: payload)
            pictureID = descriptor.pictureID?.value
        } else if !inProgress || timestamp != self.timestamp || sequenceNumber != lastSequence.advanced(by: 1) {
            abandon()
            packetsDiscarded += 1
            return nil
        }
        lastSequence = sequenceNumber
        let data = UnsafeRawBufferPointer(rebasing: payload[descriptor.length...])
        guard buffer.count + data.count <= maxFrameBytes else {
            abandon()
            throw .frameTooLarge(limit: maxFrameBytes)
        }
        buffer.append(contentsOf: data)
        guard marker else { return nil }
        inProgress = false
        framesAssembled += 1
        return VP8Frame(bytes: buffer, isKeyframe: isKeyframe, pictureID: pictureID, rtpTimestamp: timestamp)
    }

    public mutating func push(_ packet: RTPPacket) throws(VP8PayloadError) -> VP8Frame? {
        let result: Result<VP8Frame?, VP8PayloadError> = packet.payload.withUnsafeBytes { raw in
            do throws(VP8PayloadError) {
                return .success(
                    try push(
                        payload: raw, sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp,
                        marker: packet.marker))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Assembles a complete frame handed out by `JitterBuffer` (its packets in sequence order).
    /// Returns nil if the packets do not form one frame.
    public static func assemble(_ packets: [RTPPacket], maxFrameBytes: Int = 4 << 20) throws(VP8PayloadError) -> VP8Frame? {
        var assembler = VP8FrameAssembler(maxFrameBytes: maxFrameBytes)
        var frame: VP8Frame?
        for packet in packets {
            frame = try assembler.push(packet)
        }
        return frame
    }

    private mutating func abandon() {
        if inProgress { framesAbandoned += 1 }
        inProgress = false
    }
}
