import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP relay in front of the server's HTTP port, so a test can drop every connection
/// through it at once (a rural link going down) while new connections still get through.
final class TCPProxy: Sendable {
    let port: Int
    private let listener: any Channel
    private let connections: Connections

    /// Connections through the proxy, as pairs of channels (client side, server side).
    final class Connections: Sendable {
        private let open = Mutex<[ObjectIdentifier: any Channel]>([:])
        private let accepted = Atomic<Int>(0)

        func add(_ channel: any Channel) {
            open.withLock { $0[ObjectIdentifier(channel)] = channel }
            channel.closeFuture.whenComplete { [self] _ in _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
        }

        func counted() { accepted.add(1, ordering: .relaxed) }
        var acceptedCount: Int { accepted.load(ordering: .relaxed) }

        /// Closes every connection; returns how many channels were open.
        func cutAll() async -> Int {
            let channels = open.withLock { Array($0.values) }
            for channel in channels { try? await channel.close() }
            return channels.count
        }
    }

    /// Copies what one side reads to the other; either side closing closes both.
    final class Forward: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let peer: any Channel
        init(peer: any Channel) { self.peer = peer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private init(port: Int, listener: any Channel, connections: Connections) {
        self.port = port
        self.listener = listener
        self.connections = connections
    }

    static func start(to targetPort: Int) async throws -> TCPProxy {
        let connections = Connections()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                connections.counted()
                return ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        connections.add(inbound)
                        connections.add(outbound)
                        return inbound.pipeline.addHandler(Forward(peer: outbound))
                            .flatMap { outbound.pipeline.addHandler(Forward(peer: inbound)) }
                            .flatMap { inbound.setOption(.autoRead, value: true) }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = listener.localAddress?.port else { throw HarnessError.serverDidNotStart }
        return TCPProxy(port: port, listener: listener, connections: connections)
    }

    /// Drops every connection through the proxy (both sides, without a WebSocket close).
    @discardableResult
    func cutAll() async -> Int { await connections.cutAll() }

    /// Connections accepted since the start (reconnections included).
    var accepted: Int { connections.acceptedCount }

    func stop() async {
        try? await listener.close()
        await cutAll()
    }
}
