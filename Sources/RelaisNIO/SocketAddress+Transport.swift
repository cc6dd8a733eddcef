public import NIOCore
public import RelaisWire

#if canImport(Glibc)
import Glibc
#endif

extension TransportAddress {
    /// Reads the address straight from the sockaddr NIO received with the datagram (no string
    /// parsing); nil for Unix sockets.
    public init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            let sa = v4.address
            self.init(ip: .v4(UInt32(bigEndian: sa.sin_addr.s_addr)), port: UInt16(bigEndian: sa.sin_port))
        case .v6(let v6):
            let sa = v6.address
            var raw = sa.sin6_addr
            let (hi, lo) = withUnsafeBytes(of: &raw) { b in
                (UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            // IPv4-mapped IPv6 (::ffff:a.b.c.d) from a dual-stack socket is the IPv4 peer.
            if hi == 0, lo >> 32 == 0xFFFF {
                self.init(ip: .v4(UInt32(truncatingIfNeeded: lo)), port: UInt16(bigEndian: sa.sin6_port))
            } else {
                self.init(ip: .v6(hi, lo), port: UInt16(bigEndian: sa.sin6_port))
            }
        case .unixDomainSocket:
            return nil
        }
    }

    /// The NIO address for sending; built from text once per peer address, then cached by callers.
    public func socketAddress() throws -> SocketAddress {
        try SocketAddress(ipAddress: ip.description, port: Int(port))
    }
}
