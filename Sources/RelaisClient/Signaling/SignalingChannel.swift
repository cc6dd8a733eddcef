import Foundation
import HummingbirdWSClient
public import Logging
public import RelaisSignaling

/// The client's WebSocket to the relay's signaling endpoint: server messages come out of
/// `messages` in order; `send` queues client messages in order.
public final class SignalingChannel: Sendable {
    public let messages: AsyncStream<ServerMessage>
    private let outgoing: AsyncStream<ClientMessage>.Continuation
    private let task: Task<Void, Never>

    /// Why the connection ended, once it has (server close code or error text).
    public let closed: AsyncStream<String>

    public init(url: String, logger: Logger) {
        let (messages, incoming) = AsyncStream<ServerMessage>.makeStream()
        let (outgoingStream, outgoing) = AsyncStream<ClientMessage>.makeStream()
        let (closed, closing) = AsyncStream<String>.makeStream()
        self.messages = messages
        self.outgoing = outgoing
        self.closed = closed
        self.task = Task {
            do {
                let frame = try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 22), logger: logger) { inbound, outbound, _ in
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await message in outgoingStream {
                                try? await outbound.write(.text(message.encoded()))
                            }
                        }
                        do {
                            for try await frame in inbound.messages(maxSize: 1 << 22) {
                                guard case .text(let text) = frame else { continue }
                                do {
                                    incoming.yield(try ServerMessage.decode(text))
                                } catch {
                                    logger.warning("undecodable server message", metadata: ["error": "\(error)"])
                                }
                            }
                        } catch {
                            logger.debug("signaling read ended", metadata: ["error": "\(error)"])
                        }
                        group.cancelAll()
                    }
                }
                closing.yield(frame.map { "closed by server: \($0.closeCode)" } ?? "closed")
            } catch {
                closing.yield("signaling connection failed: \(error)")
            }
            incoming.finish()
            closing.finish()
        }
    }

    public func send(_ message: ClientMessage) {
        outgoing.yield(message)
    }

    public func close() {
        outgoing.finish()
        task.cancel()
    }
}
