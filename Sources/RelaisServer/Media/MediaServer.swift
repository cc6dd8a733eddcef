public import NIOCore
import NIOPosix
public import Logging
public import RelaisWire
public import RelaisTransport
import Synchronization

/// Where and how the relay listens for media.
public struct MediaConfiguration: Sendable {
    /// Address the UDP sockets bind to and advertise in candidates. Loopback by default, so a
    /// development relay is never reachable from the network by accident.
    public var host = "127.0.0.1"
    /// First UDP port; loop `i` binds `port + i`. 0 lets the OS choose (tests).
    public var port = 40_000
    /// Media event loops (one UDP socket each); 0 means one per core.
    public var loops = 1
    /// Receive and send buffer asked for each media socket. A loop that stalls for a moment (a GC
    /// of the host, a burst of keyframes to many subscribers) must not lose what arrives meanwhile:
    /// 4 MiB holds about 1800 full-size datagrams, over half a second of 30 HD subscribers, where
    /// Linux's default (208 KiB) holds about 90. Set with SO_RCVBUFFORCE/SO_SNDBUFFORCE when the
    /// process may (CAP_NET_ADMIN), else capped by net.core.rmem_max / wmem_max (logged).
    public var socketBufferBytes = 4 << 20
    public var transport = TransportConfiguration()

    public init() {}
}

/// The media plane: a set of `MediaLoop`s, each confined to its own event loop.
///
/// This is the Sendable façade the signaling side talks to; it hops onto the right loop for
/// every operation, and the loops never share state.
public final class MediaServer: Sendable {
    public let certificate: DTLSCertificate
    let loops: [NIOLoopBound<MediaLoop>]
    public let localAddresses: [TransportAddress]
    let logger: Logger
    private let nextLoop = Atomic<Int>(0)

    private init(certificate: DTLSCertificate, loops: [NIOLoopBound<MediaLoop>], localAddresses: [TransportAddress], logger: Logger) {
        self.certificate = certificate
        self.loops = loops
        self.localAddresses = localAddresses
        self.logger = logger
    }

    /// Binds the media sockets on `group`'s event loops.
    public static func start(
        configuration: MediaConfiguration, certificate: DTLSCertificate, group: any EventLoopGroup, logger: Logger
    ) async throws -> MediaServer {
        let count = configuration.loops > 0 ? configuration.loops : System.coreCount
        var loops: [NIOLoopBound<MediaLoop>] = []
        var addresses: [TransportAddress] = []
        // One SSL_CTX for every transport of every loop (see DTLSContext).
        let dtlsContext = try DTLSContext(certificate: certificate, profiles: configuration.transport.srtpProfiles)
        for i in 0..<count {
            let eventLoop = group.next()
            let port = configuration.port == 0 ? 0 : configuration.port + i
            let (bound, address) = try await eventLoop.flatSubmit { () -> EventLoopFuture<(NIOLoopBound<MediaLoop>, TransportAddress?)> in
                let loop = MediaLoop(
                    eventLoop: eventLoop, configuration: configuration.transport, certificate: certificate,
                    dtlsContext: dtlsContext, logger: logger)
                let bound = NIOLoopBound(loop, eventLoop: eventLoop)
                return loop.bind(host: configuration.host, port: port, socketBufferBytes: configuration.socketBufferBytes).map {
                    (bound, bound.value.localAddress)
                }
            }.get()
            guard let address else { throw MediaServerError.bindFailed(configuration.host, port) }
            loops.append(bound)
            addresses.append(address)
            let sizes = try await eventLoop.submit { bound.value.socketBuffers }.get()
            logger.info("media loop listening", metadata: [
                "loop": "\(i)", "address": "\(address)", "receive_buffer": "\(sizes.receiveBytes)", "send_buffer": "\(sizes.sendBytes)",
            ])
            // getsockopt reports twice what was set; less than asked means the sysctl cap applied.
            if configuration.socketBufferBytes > 0, min(sizes.receiveBytes, sizes.sendBytes) < configuration.socketBufferBytes {
                logger.warning("media socket buffers are smaller than configured; raise net.core.rmem_max and wmem_max or grant CAP_NET_ADMIN", metadata: [
                    "configured": "\(configuration.socketBufferBytes)", "receive_buffer": "\(sizes.receiveBytes / 2)", "send_buffer": "\(sizes.sendBytes / 2)",
                ])
            }
        }
        return MediaServer(certificate: certificate, loops: loops, localAddresses: addresses, logger: logger)
    }

    /// Picks a loop for a new room (round robin) and returns its index.
    func pickLoop() -> Int {
        nextLoop.add(1, ordering: .relaxed).oldValue % loops.count
    }

    /// Runs `body` on loop `index` with its MediaLoop.
    func onLoop<T: Sendable>(_ index: Int, _ body: @escaping @Sendable (MediaLoop) throws -> T) async throws -> T {
        let bound = loops[index]
        return try await bound.eventLoop.submit { try body(bound.value) }.get()
    }

    public var loopCount: Int { loops.count }

    /// Snapshot of one transport, for tests and stats.
    public func snapshot(loop: Int, transport: TransportID) async throws -> TransportSnapshot? {
        try await onLoop(loop) { $0.transportSnapshot(transport) }
    }

    /// Snapshots of live and recently closed transports on every loop.
    public func snapshots() async throws -> [TransportSnapshot] {
        var all: [TransportSnapshot] = []
        for i in loops.indices { all += try await onLoop(i) { $0.allSnapshots() } }
        return all
    }

    /// Counters of every loop.
    public func counters() async throws -> [MediaLoopCounters] {
        var all: [MediaLoopCounters] = []
        for i in loops.indices { all.append(try await onLoop(i) { $0.counters }) }
        return all
    }

    /// Forwarding figures of every loop (counters since start, sampled added latency since start
    /// or the last reset); `resetLatency` starts a new latency window on every loop.
    public func relayStatistics(resetLatency: Bool = false) async throws -> [RelayStatistics] {
        try await loopFigures(resetLatency: resetLatency).map(\.relay)
    }

    /// Everything the admin API and the metrics read of each loop, in one hop per loop so the
    /// counters and the latency window describe the same instant.
    func loopFigures(resetLatency: Bool) async throws -> [LoopFigures] {
        var all: [LoopFigures] = []
        for i in loops.indices {
            all.append(try await onLoop(i) { loop in
                LoopFigures(counters: loop.counters, transports: loop.transportCount,
                            relay: loop.relayStatistics(loop: i, resetLatency: resetLatency), socket: loop.socketBuffers)
            })
        }
        // The kernel's drops for each loop's socket, read here rather than on the loops.
        let drops = KernelUDPCounters.drops(ports: Set(localAddresses.map { Int($0.port) }))
        for i in all.indices where i < localAddresses.count {
            all[i].counters.socketReceiveDrops = drops[Int(localAddresses[i].port)] ?? 0
        }
        return all
    }

    /// Closes every transport (DTLS close_notify) and socket.
    public func shutdown() async {
        for bound in loops {
            try? await bound.eventLoop.flatSubmit { bound.value.shutdown() }.get()
        }
    }
}

/// One media loop's counters, live transports and forwarding figures, read together.
struct LoopFigures: Sendable {
    var counters: MediaLoopCounters
    var transports: Int
    var relay: RelayStatistics
    var socket: SocketBufferSizes
}

/// The buffer sizes the kernel gave a media socket (what `getsockopt` reports: Linux doubles the
/// requested size for its bookkeeping).
public struct SocketBufferSizes: Sendable, Equatable {
    public var receiveBytes = 0
    public var sendBytes = 0
}

public enum MediaServerError: Error, CustomStringConvertible {
    case bindFailed(String, Int)

    public var description: String {
        switch self {
        case .bindFailed(let host, let port): "could not bind media socket on \(host):\(port)"
        }
    }
}

extension Instant {
    /// Now on the monotonic clock the media loops and the camera rules share.
    static var now: Instant { Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds) }
}
