import Foundation

/// What the kernel knows of the relay's media sockets that no counter of the relay can see: a
/// datagram dropped because a socket's receive buffer was full never reaches NIO.
///
/// `/proc/net/udp` and `/proc/net/udp6` list every UDP socket of the network namespace with its
/// local port, its receive queue and its `drops` (proc(5)). The relay reads its media ports' lines
/// when its counters are read (a scrape, an admin request), never on a media loop.
enum KernelUDPCounters {
    struct Socket: Equatable {
        var port: Int
        /// Bytes waiting in the receive queue (`rx_queue`).
        var receiveQueueBytes: Int
        /// Datagrams dropped on arrival, mostly for a full receive buffer.
        var drops: Int
    }

    static let paths = ["/proc/net/udp", "/proc/net/udp6"]

    /// The sockets listed in the text of /proc/net/udp or udp6. A line that does not read as one
    /// (the header, a format this code does not know) is skipped, never trusted.
    static func sockets(procNetUDP text: String) -> [Socket] {
        text.split(separator: "\n").compactMap { line in
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 13, fields[0].hasSuffix(":"),
                  let portText = fields[1].split(separator: ":").last, let port = Int(portText, radix: 16),
                  let queueText = fields[4].split(separator: ":").last, let queue = Int(queueText, radix: 16),
                  let drops = fields.last.flatMap({ Int($0) }), drops >= 0
            else { return nil }
            return Socket(port: port, receiveQueueBytes: queue, drops: drops)
        }
    }

    /// Drops per local port among `ports`, summed over IPv4 and IPv6 sockets; empty where /proc
    /// cannot be read (not Linux, a sandbox without it).
    static func drops(ports: Set<Int>, read: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) }) -> [Int: Int] {
        var result: [Int: Int] = [:]
        for path in paths {
            guard let text = read(path) else { continue }
            for socket in sockets(procNetUDP: text) where ports.contains(socket.port) {
                result[socket.port, default: 0] += socket.drops
            }
        }
        return result
    }
}
