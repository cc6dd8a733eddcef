import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The HTTP request context of the signaling upgrade: Hummingbird's basic WebSocket context plus
/// the TCP peer (for the per-address cap) and the channel (to tear down a connection whose close
/// handshake never finishes).
struct SignalingRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<SignalingRequestContext>
    let remoteAddress: SocketAddress?
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
}
