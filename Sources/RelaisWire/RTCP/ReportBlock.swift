/// One reception report block of an SR or RR (RFC 3550 §6.4.1): what the reporter has received
/// from one source.
///
/// A plain 24-byte value, so views return it directly from `reportBlock(at:)` without allocating.
public struct ReportBlock: Hashable, Sendable {
    /// The source this block reports on (SSRC_n).
    public var ssrc: SSRC
    /// Fraction of packets lost since the previous report, as a fixed-point number with the binary
    /// point at the left edge (lost / expected * 256).
    public var fractionLost: UInt8
    /// Cumulative packets lost, a signed 24-bit value: duplicates can make it negative. Values out
    /// of range are clamped when written (RFC 3550 §A.3).
    public var cumulativeLost: Int32
    /// Cycle count (high 16 bits) and highest sequence number received (low 16 bits).
    public var extendedHighestSequenceNumber: UInt32
    /// Interarrival jitter in RTP timestamp units (RFC 3550 §6.4.1, §A.8).
    public var jitter: UInt32
    /// Middle 32 bits of the NTP timestamp of the last SR from this source (LSR), 0 if none.
    public var lastSenderReport: UInt32
    /// Delay since that SR in units of 1/65536 s (DLSR), 0 if none.
    public var delaySinceLastSenderReport: UInt32

    /// Bytes of one block on the wire.
    public static let size = 24

    /// The largest and smallest values the 24-bit cumulative-lost field can carry.
    public static let cumulativeLostRange: ClosedRange<Int32> = -0x80_0000...0x7F_FFFF

    public init(
        ssrc: SSRC, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, extendedHighestSequenceNumber: UInt32 = 0,
        jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequenceNumber = extendedHighestSequenceNumber
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    /// Reads a block at `offset`; the caller has checked `offset + 24 <= bytes.count`.
    init(reading bytes: UnsafeRawBufferPointer, at offset: Int) {
        let lost = bytes.u32(at: offset + 4)
        self.ssrc = SSRC(bytes.u32(at: offset))
        self.fractionLost = UInt8(truncatingIfNeeded: lost >> 24)
        // Sign-extend the 24-bit two's complement field.
        self.cumulativeLost = Int32(bitPattern: lost << 8) >> 8
        self.extendedHighestSequenceNumber = bytes.u32(at: offset + 8)
        self.jitter = bytes.u32(at: offset + 12)
        self.lastSenderReport = bytes.u32(at: offset + 16)
        self.delaySinceLastSenderReport = bytes.u32(at: offset + 20)
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        // RFC 3550 §A.3: clamp rather than wrap, so a huge loss never reads as a gain.
        let clamped = min(max(cumulativeLost, Self.cumulativeLostRange.lowerBound), Self.cumulativeLostRange.upperBound)
        try writer.write(ssrc.rawValue)
        try writer.write(UInt32(fractionLost) << 24 | UInt32(bitPattern: clamped) & 0xFF_FFFF)
        try writer.write(extendedHighestSequenceNumber)
        try writer.write(jitter)
        try writer.write(lastSenderReport)
        try writer.write(delaySinceLastSenderReport)
    }
}

/// Report blocks and profile-specific extensions follow the same rules in SR and RR.
enum ReportBlocks {
    /// Checks that `count` blocks fit in `body` from `offset`.
    static func validate(count: Int, in body: UnsafeRawBufferPointer, from offset: Int) throws(RTCPError) {
        let fits = (body.count - offset) / ReportBlock.size
        guard count <= fits else { throw .countMismatch(declared: count, available: fits) }
    }

    static func write(
        _ blocks: [ReportBlock], extensions: [UInt8], into writer: inout ByteWriter
    ) throws(BufferTooSmall) {
        for block in blocks {
            try block.serialize(into: &writer)
        }
        try writer.write(bytes: extensions)
    }
}
