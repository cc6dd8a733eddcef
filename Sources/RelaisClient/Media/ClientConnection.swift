public import NIOCore
import RelaisNIO
import NIOPosix
public import RelaisTransport
public import RelaisWire

/// One of the client's peer connections on the wire: a UDP socket on one event loop, the sans-IO
/// `ClientTransport` and the loop's scratch buffers. Everything runs on `eventLoop`; media
/// pipelines (publish or subscribe) plug in through `delegate` and send through it.
public final class ClientConnection {
    public let eventLoop: any EventLoop
    /// Set once the relay's side is known (its SDP), which comes after the socket is bound.
    public private(set) var transport: ClientTransport?
    public private(set) var localAddress: TransportAddress
    private let channel: any Channel
    private var timer: Scheduled<Void>?
    private var remoteSocket: SocketAddress?
    /// Receive scratch: a datagram is decrypted in place here.
    let receive: UnsafeMutableRawBufferPointer
    /// Transmit scratch for packets the client composes.
    public let transmit: UnsafeMutableRawBufferPointer
    public static let scratchSize = 2048
    public weak var delegate: (any ClientConnectionDelegate)?
    public private(set) var datagramsIn = 0, datagramsOut = 0

    /// Binds a UDP socket on `host` (port chosen by the OS) on `eventLoop`.
    public static func bind(host: String, eventLoop: any EventLoop) -> EventLoopFuture<NIOLoopBound<ClientConnection>> {
        DatagramBootstrap(group: eventLoop)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: scratchSize))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramForwarder()) }
            }
            .bind(host: host, port: 0)
            .flatMapThrowing { channel in
                guard let local = channel.localAddress.flatMap(TransportAddress.init) else { throw ClientConnectionError.noLocalAddress }
                let connection = ClientConnection(eventLoop: eventLoop, channel: channel, localAddress: local)
                try channel.pipeline.syncOperations.handler(type: DatagramForwarder.self).connection = connection
                return NIOLoopBound(connection, eventLoop: eventLoop)
            }
    }

    private init(eventLoop: any EventLoop, channel: any Channel, localAddress: TransportAddress) {
        self.eventLoop = eventLoop
        self.channel = channel
        self.localAddress = localAddress
        self.receive = .allocate(byteCount: Self.scratchSize, alignment: 16)
        self.transmit = .allocate(byteCount: Self.scratchSize, alignment: 16)
    }

    deinit {
        receive.deallocate()
        transmit.deallocate()
    }

    public static func now() -> Instant { Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds) }

    /// Starts ICE towards the relay's candidates.
    public func start(transport: ClientTransport, remoteCandidates: [ICECandidate]) {
        self.transport = transport
        let now = Self.now()
        for candidate in remoteCandidates { transport.addRemoteCandidate(candidate, now: now) }
        flushControl()
        schedule()
    }

    func handle(_ envelope: AddressedEnvelope<ByteBuffer>) {
        datagramsIn += 1
        let length = envelope.data.readableBytes
        guard let transport, length > 0, length <= Self.scratchSize - SRTPSession.maxTrailer,
              let source = TransportAddress(envelope.remoteAddress) else { return }
        envelope.data.withUnsafeReadableBytes { receive.copyMemory(from: $0) }
        let now = Self.now()
        switch transport.handleDatagram(receive, length: length, localIndex: 0, from: source, now: now) {
        case .rtp(let n):
            delegate?.connection(self, receivedRTP: UnsafeMutableRawBufferPointer(rebasing: receive[0..<n]), now: now)
        case .rtcp(let n):
            delegate?.connection(self, receivedRTCP: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(receive)[0..<n]), now: now)
        case .handled, .dropped:
            break
        }
        flushControl()
        drainEvents()
    }

    /// Protects and sends the RTP packet in `transmit[0..<length]`.
    public func sendRTP(length: Int) {
        guard let n = transport?.protectRTP(transmit, length: length) else { return }
        send(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(transmit)[0..<n]))
    }

    /// Protects and sends the RTCP compound in `transmit[0..<length]`.
    public func sendRTCP(length: Int) {
        guard length > 0, let n = transport?.protectRTCP(transmit, length: length) else { return }
        send(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(transmit)[0..<n]))
    }

    private func send(_ bytes: UnsafeRawBufferPointer) {
        guard let destination = remoteSocket else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
        datagramsOut += 1
    }

    private func flushControl() {
        guard let transport else { return }
        while let (bytes, _, destination) = transport.pollTransmit() {
            guard let address = try? destination.socketAddress() else { continue }
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
            datagramsOut += 1
        }
        channel.flush()
    }

    private func drainEvents() {
        guard let transport else { return }
        while let event = transport.pollEvent() {
            switch event {
            case .selected(_, let remote):
                remoteSocket = try? remote.socketAddress()
            case .connected:
                delegate?.connectionConnected(self)
            case .failed(let why), .closed(let why):
                delegate?.connection(self, closed: why)
            }
        }
    }

    /// Arms one timer for the transport's next deadline (and a slow tick for the pipelines).
    private func schedule() {
        timer?.cancel()
        let now = Self.now()
        let deadline = min(transport?.nextDeadline ?? now + .milliseconds(20), now + .milliseconds(20))
        let delay = TimeAmount.nanoseconds(Int64(deadline.nanoseconds > now.nanoseconds ? deadline.nanoseconds - now.nanoseconds : 0))
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(in: delay) {
            let connection = bound.value
            let now = Self.now()
            connection.transport?.handleTimeout(now: now)
            connection.flushControl()
            connection.drainEvents()
            connection.delegate?.connection(connection, tick: now)
            if connection.transport?.isClosed != true { connection.schedule() }
        }
    }

    /// Connected: ICE done, DTLS done, SRTP keyed.
    public var isConnected: Bool { transport?.isConnected ?? false }

    public func close() {
        transport?.close(reason: "client leaving")
        flushControl()
        timer?.cancel()
        channel.close(promise: nil)
    }
}

public enum ClientConnectionError: Error {
    case noLocalAddress
}

/// Media pipelines (publish, subscribe) see their connection's traffic through this.
public protocol ClientConnectionDelegate: AnyObject {
    func connectionConnected(_ connection: ClientConnection)
    func connection(_ connection: ClientConnection, receivedRTP packet: UnsafeMutableRawBufferPointer, now: Instant)
    func connection(_ connection: ClientConnection, receivedRTCP compound: UnsafeRawBufferPointer, now: Instant)
    func connection(_ connection: ClientConnection, tick now: Instant)
    func connection(_ connection: ClientConnection, closed reason: String)
}

final class DatagramForwarder: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    var connection: ClientConnection?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.handle(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
