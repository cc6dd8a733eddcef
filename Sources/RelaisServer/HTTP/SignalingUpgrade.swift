import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// The WebSocket upgrade of `/v1/signaling`: which requests become signaling connections, and
/// what serves them.
///
/// Decided by a `shouldUpgrade` closure, not a WebSocket `Router` route: hummingbird-websocket
/// 2.8's router stores the upgrade's request context inside that context's own
/// `WebSocketHandlerReference` box (box → context → box), a reference cycle that nothing breaks,
/// so every upgraded connection's context outlived it, and with it everything the context held.
/// Ours held the TCP channel, so each signaling connection left its `SocketChannel`, receive
/// buffer, write queue and logger behind, about 4.8 KB (heaptrack over an 8-minute soak: 180
/// connections, 858 KB still live). With clients that reconnect (a `resume` after every idle
/// timeout or network change) that is unbounded growth. Here the channel is only captured by the
/// handler closure, released when the connection's handler returns.
enum SignalingUpgrade {
    static let path = "/v1/signaling"

    /// Serves one upgraded connection: inbound frames, outbound writer, the TCP peer (for the
    /// per-address cap) and the channel (to tear down a connection whose close handshake never
    /// finishes). Returns when the connection is over.
    typealias Serve = @Sendable (WebSocketInboundStream, WebSocketOutboundWriter, SocketAddress?, any Channel) async -> Void

    /// An HTTP/1 server that upgrades `GET /v1/signaling` (any query) to a WebSocket served by
    /// `serve`; every other request goes to the HTTP router.
    static func server(configuration: WebSocketServerConfiguration, serve: @escaping Serve) -> HTTPServerBuilder {
        .http1WebSocketUpgrade(configuration: .init(ws: configuration)) {
            @Sendable (request: HTTPRequest, channel: any Channel, _: Logger) async throws -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> in
            guard request.method == .get, isSignalingPath(request.path) else { return .dontUpgrade }
            return .upgrade([:]) { inbound, outbound, _ in
                await serve(inbound, outbound, channel.remoteAddress, channel)
            }
        }
    }

    /// The request target's path (before any query) is `/v1/signaling`.
    static func isSignalingPath(_ target: String?) -> Bool {
        guard let target else { return false }
        return target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first == Substring(path)
    }
}
