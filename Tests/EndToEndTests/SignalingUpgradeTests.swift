import Hummingbird
import NIOCore
@testable import RelaisServer
import Synchronization
import Testing

/// The signaling WebSocket upgrade keeps nothing of a connection once it is over.
///
/// A client that reconnects (it `resume`s after every idle timeout or network change) opens a new
/// connection each time: anything a finished connection leaves behind grows without bound. The
/// upgrade through hummingbird-websocket's `Router.ws` left each connection's request context in a
/// reference cycle, and with it the `SocketChannel`, its receive buffer and logger (about 4.8 KB
/// per connection; the soak's growth of ~0.3 MiB a minute).
@Suite struct SignalingUpgradeTests {
    /// Weak references to the channels the upgrade handed to `serve`, and how many `serve`s returned.
    final class Served: Sendable {
        private final class Weak: @unchecked Sendable {
            weak var channel: (any Channel)?
            init(_ channel: any Channel) { self.channel = channel }
        }
        private let state = Mutex<(channels: [Weak], finished: Int)>(([], 0))

        func started(_ channel: any Channel) { state.withLock { $0.channels.append(Weak(channel)) } }
        func finished() { state.withLock { $0.finished += 1 } }
        var finishedCount: Int { state.withLock { $0.finished } }
        var startedCount: Int { state.withLock { $0.channels.count } }
        var liveChannels: Int { state.withLock { $0.channels.count { $0.channel != nil } } }
    }

    @Test func finishedConnectionsReleaseTheirChannels() async throws {
        let served = Served()
        // As the relay's server does: the handler serves until the connection ends (here the
        // server ends it at once, as its idle watchdog or an operator would).
        let server = SignalingUpgrade.server(configuration: .init()) { _, _, peer, channel in
            #expect(peer != nil)
            served.started(channel)
            served.finished()
        }
        let (ports, ready) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: Router(), server: server,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in ready.yield(channel.localAddress?.port ?? 0) })
        let running = Task { try await app.runService() }
        defer { running.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        let connections = 8
        for _ in 0..<connections {
            let socket = try await RawWebSocket.connect(port: port)
            // The server's close frame (its handler returned), then the client drops the socket.
            _ = try await socket.untilClose()
            socket.shutdown()
        }
        #expect(served.startedCount == connections)

        // Deallocation has no event to wait for: poll, with a deadline far above the time the
        // server needs to see the end of the sockets and tear the channels down.
        let deadline = ContinuousClock.now + .seconds(20)
        while served.finishedCount < connections || served.liveChannels > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(served.finishedCount == connections)
        #expect(served.liveChannels == 0, "channels of finished signaling connections still alive")
    }

    @Test func upgradesOnlyTheSignalingPath() {
        #expect(SignalingUpgrade.isSignalingPath("/v1/signaling"))
        #expect(SignalingUpgrade.isSignalingPath("/v1/signaling?client=cart"))
        #expect(!SignalingUpgrade.isSignalingPath("/v1/signaling/x"))
        #expect(!SignalingUpgrade.isSignalingPath("/v1/echo"))
        #expect(!SignalingUpgrade.isSignalingPath(nil))
    }
}
