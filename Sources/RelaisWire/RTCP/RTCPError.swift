/// Why bytes are not a usable RTCP packet or compound. Every case is something a peer (or an
/// attacker) can send; none of them traps.
///
/// Byte counts (`needed`, `have`, `offset`, ...) are relative to the start of the individual packet,
/// its 4-byte header included, so they can be compared with the packet's length field directly.
public enum RTCPError: Error, Equatable, Sendable {
    /// The packet ended before a field that its own header (or type) requires.
    case truncated(needed: Int, have: Int)
    /// Version field other than 2 (RFC 3550 §6.4.1).
    case badVersion(UInt8)
    /// The length field claims more bytes than the compound has left.
    case lengthPastEnd(declared: Int, available: Int)
    /// Padding bit set but the last octet is zero or larger than the packet after its header.
    case badPadding(length: Int, available: Int)
    /// The count field (RC, SC, number of SSRCs, TWCC packet status count) promises more items than
    /// the packet holds.
    case countMismatch(declared: Int, available: Int)
    /// A view was asked to read a packet of another type (or feedback message type).
    case wrongPacketType(packetType: UInt8, count: UInt8)
    /// Feedback control information whose length is not a whole number of entries.
    case badFCILength(Int)
    /// An SDES item's length octet runs past the end of the packet.
    case sdesItemOverrun(offset: Int)
    /// An SDES chunk has no null item before the end of the packet (RFC 3550 §6.5).
    case sdesUnterminatedChunk(index: Int)
    /// A BYE reason's length octet runs past the end of the packet (RFC 3550 §6.6).
    case reasonOverrun(length: Int, available: Int)
    /// An application-layer feedback message (PSFB FMT 15) without the "REMB" identifier.
    case unsupportedApplicationFeedback(identifier: UInt32)
    /// A REMB bitrate whose mantissa shifted by its exponent does not fit in 64 bits.
    case rembBitrateOverflow(exponent: UInt8, mantissa: UInt32)
    /// A transport-wide feedback status symbol 11, which the draft reserves.
    case reservedStatusSymbol(index: Int)
}
