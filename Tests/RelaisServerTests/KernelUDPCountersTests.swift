import Foundation
@testable import RelaisServer
import Testing

/// The kernel's drops of the relay's media sockets, read from /proc/net/udp: the parser on real
/// and hostile text, and a real socket whose full receive buffer makes the kernel drop.
@Suite struct KernelUDPCountersTests {
    /// Two lines as Linux 6.1 writes them (one socket with a queue and drops), the header, and
    /// lines that must be skipped rather than trusted.
    @Test func parsesProcNetUDPAndSkipsWhatItCannotRead() {
        let text = """
               sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
              123: 0100007F:9C40 00000000:0000 07 00000000:00000900 00:00000000 00000000     0        0 41012 2 0000000000000000 17
              456: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   108        0 19180 2 0000000000000000 0
              789: 0100007F:ZZZZ 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 5
              790: 0100007F:9C41 00000000:0000 07 00000000:00000000
              791: 0100007F:9C42 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 -3
            garbage \u{0} with: 1 2 3 4 5 6 7 8 9 10 11 12 13
            """
        #expect(KernelUDPCounters.sockets(procNetUDP: text) == [
            .init(port: 40_000, receiveQueueBytes: 0x900, drops: 17),
            .init(port: 5353, receiveQueueBytes: 0, drops: 0),
        ])
        let drops = KernelUDPCounters.drops(ports: [40_000, 40_001]) { path in path.hasSuffix("udp6") ? text : text }
        #expect(drops == [40_000: 34], "IPv4 and IPv6 sockets of one port are summed")
        #expect(KernelUDPCounters.drops(ports: [40_000]) { _ in nil }.isEmpty, "no /proc: nothing, not a failure")
    }

    /// A socket nobody reads, with the smallest receive buffer, sent far more than it holds: the
    /// kernel counts the overflow on that socket, and the reader finds it by port.
    @Test func aFullReceiveBufferIsCountedByTheKernelAndFound() throws {
        let receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(receiver >= 0 && sender >= 0)
        defer { close(receiver); close(sender) }
        var size: Int32 = 1
        setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, length) == 0 && getsockname(receiver, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let before = KernelUDPCounters.drops(ports: [port])[port] ?? 0
        let payload = [UInt8](repeating: 0x42, count: 1200)
        for _ in 0..<200 {
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(sender, payload, payload.count, 0, $0, length) }
            }
        }
        let after = try #require(KernelUDPCounters.drops(ports: [port])[port], "the socket is listed in /proc/net/udp")
        // The minimum buffer (about 2 KiB, doubled) takes a datagram or two of the 200.
        #expect(after - before >= 150, "\(after - before) drops counted")
    }
}
