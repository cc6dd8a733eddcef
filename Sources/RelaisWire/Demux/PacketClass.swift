/// What a datagram arriving on a shared UDP port carries.
public enum PacketClass: Equatable, Sendable {
    case stun
    case zrtp
    case dtls
    case turnChannel
    case rtp
    case rtcp
    /// Not something a WebRTC peer sends on this port; dropped and counted by the caller.
    case unknown
}

extension PacketClass {
    /// Classifies a datagram by its first bytes, as RFC 7983 §7 prescribes, and RTP from RTCP by
    /// the second byte as RFC 5761 §4 prescribes (RTCP packet types 192...223 occupy what would be
    /// RTP payload types 64...95 with the marker bit set).
    ///
    /// Reads at most two bytes and never traps; an empty datagram is `.unknown`.
    @inlinable
    public static func classify(_ datagram: UnsafeRawBufferPointer) -> PacketClass {
        guard let first = datagram.first else { return .unknown }
        switch first {
        case 0...3:
            return .stun
        case 16...19:
            return .zrtp
        case 20...63:
            return .dtls
        case 64...79:
            return .turnChannel
        case 128...191:
            guard datagram.count >= 2 else { return .unknown }
            let second = datagram[1]
            return (192...223).contains(second) ? .rtcp : .rtp
        default:
            return .unknown
        }
    }

    /// Convenience for tests and control-plane code.
    public static func classify(_ datagram: [UInt8]) -> PacketClass {
        datagram.withUnsafeBytes { classify($0) }
    }
}
