public import NIOCore
import RelaisNIO
import NIOPosix
public import Logging
public import RelaisWire
public import RelaisTransport
public import RelaisSFU

/// Identifies a transport within its media loop.
public typealias TransportID = Int

/// What a transport's decrypted media is for. A closed set of concrete cases, so the hot path
/// dispatches with a switch, not through an existential.
package enum TransportPurpose {
    /// Pre-consultation equipment test: media goes back to the sender.
    case echo(EchoSession)
    /// A participant's publish transport in a consultation room.
    case publisher(PublisherSession)
    /// A participant's subscribe transport in a consultation room.
    case subscriber(SubscriberSession)
}

/// Per-transport state the loop keeps beside the sans-IO core.
final class TransportEntry {
    let id: TransportID
    let transport: WebRTCTransport
    var purpose: TransportPurpose
    /// NIO addresses of validated peer addresses, kept so sending never parses text.
    var socketAddresses: [TransportAddress: SocketAddress] = [:]
    var sendSocketAddress: SocketAddress?
    let created: Instant

    init(id: TransportID, transport: WebRTCTransport, purpose: TransportPurpose, created: Instant) {
        self.id = id
        self.transport = transport
        self.purpose = purpose
        self.created = created
    }
}

/// Counters of one media loop, read by stats snapshots.
public struct MediaLoopCounters: Sendable, Equatable {
    public var datagramsIn = 0
    public var datagramsOut = 0
    /// Datagrams no transport claimed (unknown ufrag, unvalidated address, garbage).
    public var unrouted = 0
    public var drops: [TransportDropReason: Int] = [:]
    public var transportsOpened = 0
    public var transportsClosed = 0
    public var consentExpiries = 0
    public var dtlsFailures = 0
    /// Packets re-sent from the retransmission cache to answer subscribers' NACKs.
    public var retransmissions = 0
    /// NACKed packets the cache no longer held (or never had).
    public var retransmissionMisses = 0
    /// NACK packets the relay sent to publishers for loss it detected.
    public var nacksToPublishers = 0
    /// Transport-wide congestion feedback compounds (TWCC) the relay sent to publishers.
    public var transportFeedbackToPublishers = 0
    /// REMB compounds (the configured bitrate ceiling) the relay sent to publishers.
    public var rembToPublishers = 0
    /// Keyframe requests (PLI) the relay sent to publishers after throttling.
    public var keyframeRequests = 0
    /// RTP packets forwarded to subscribers.
    public var forwarded = 0
    /// UDP payload bytes received and sent.
    public var bytesIn = 0
    public var bytesOut = 0
    /// NACKed sequence numbers not answered because they were answered (or listed in the same NACK)
    /// less than a round trip ago (`RetransmissionGate`).
    public var nackRepeats = 0
    /// NACKed sequence numbers not answered because the subscriber's retransmission budget was
    /// spent (`RetransmissionBudget`: 20% of the bytes forwarded to it over the last second).
    public var nackOverBudget = 0
    /// Publisher RTP dropped before the down tracks: already received (duplicates), and too far
    /// behind to tell or an unconfirmed sequence jump (RFC 3550 §A.1).
    public var rtpDuplicates = 0
    public var rtpTooOld = 0
    /// Datagrams dropped because the socket was not writable (the kernel's send buffer is full).
    public var unwritableDrops = 0
    /// Checks that validated an address bound to another transport with fresh consent: not moved.
    public var addressMovesRefused = 0
    /// Packets a subscriber's down track did not forward, by reason (waiting for a keyframe after
    /// a subscribe, a layer switch or a source change; reordered from an earlier source; an output
    /// index already used or too old for the SRTP window; no payload type mapping; malformed).
    public var forwardDrops: [DownTrackDropReason: Int] = [:]
    /// RTP or RTCP the outbound SRTP context refused to protect (its SSRC table full or the SSRC
    /// retired, an index older than the replay window), so never sent.
    public var protectRefused = 0
    /// Datagrams the kernel dropped because this loop's socket receive buffer was full (the
    /// `drops` column of /proc/net/udp for its port): filled in when the counters are read, not by
    /// the loop.
    public var socketReceiveDrops = 0
}

/// Everything media on one event loop: its UDP socket, its transports and their rooms.
///
/// All state is confined to `eventLoop` (the channel handler and timers run there; other
/// threads hop in with `eventLoop.execute`/`submit`), so the media path takes no locks. The loop
/// owns two scratch buffers: a datagram is copied once from NIO's receive buffer into `receive`,
/// decrypted there, rewritten and protected per subscriber in `transmit`, and copied into a
/// pooled send buffer of the outbox, which goes to the socket when the read batch ends.
public final class MediaLoop {
    public let eventLoop: any EventLoop
    let configuration: TransportConfiguration
    let certificate: DTLSCertificate
    /// The DTLS context every transport of this loop is made from: the server's, shared by all
    /// its loops, or one of this loop's own made at the first transport (harnesses, tests).
    private(set) var dtlsContext: DTLSContext?
    let logger: Logger
    /// The address advertised in candidates (the bound socket's).
    public private(set) var localAddress: TransportAddress?

    private var channel: (any Channel)?
    private var router = ICEPortRouter<TransportID>()
    var entries: [TransportID: TransportEntry] = [:]
    /// Rooms whose media lives on this loop, by name.
    var rooms: [String: RoomMedia] = [:]
    private var nextID: TransportID = 1
    private var timer: RepeatedTask?
    /// Final snapshots of closed transports, newest last, bounded.
    private var recentlyClosed: [TransportSnapshot] = []
    static let closedHistory = 64
    package internal(set) var counters = MediaLoopCounters()
    /// Datagrams waiting for the batch flush, in reusable buffers (no allocation per packet).
    package var outbox = MediaOutbox(bufferCapacity: MediaLoop.scratchSize)
    /// Sampled receive-to-flush latency of forwarded media.
    var latency = RelayLatencySampler()

    /// Receive scratch: one datagram, decrypted in place, with room for re-protection trailers.
    let receive: UnsafeMutableRawBufferPointer
    /// Transmit scratch for packets the relay composes (translated or generated RTCP).
    let transmit: UnsafeMutableRawBufferPointer
    static let scratchSize = 2048
    /// Datagrams per recvmmsg, and recvmmsg calls per readiness event (one read batch).
    static let vectorReadCount = 32
    static let readBatches: UInt = 4

    public init(
        eventLoop: any EventLoop, configuration: TransportConfiguration, certificate: DTLSCertificate,
        dtlsContext: DTLSContext? = nil, logger: Logger
    ) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.certificate = certificate
        self.dtlsContext = dtlsContext
        self.logger = logger
        self.receive = .allocate(byteCount: Self.scratchSize, alignment: 16)
        self.transmit = .allocate(byteCount: Self.scratchSize, alignment: 16)
    }

    deinit {
        receive.deallocate()
        transmit.deallocate()
    }

    /// Monotonic time for the cores.
    package static func now() -> Instant {
        Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds)
    }

    // MARK: - Lifecycle (on the loop)

    /// The buffer sizes the kernel gave this loop's socket (0 before `bind`).
    private(set) var socketBuffers = SocketBufferSizes()

    /// Binds the UDP socket, sizes its buffers and starts the timer tick. Call on `eventLoop`.
    func bind(host: String, port: Int, socketBufferBytes: Int = 0) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        // Closures below run on this loop; the loop-bound box makes that confinement explicit.
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        let bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.maxMessagesPerRead, value: Self.readBatches)
            // recvmmsg: up to `vectorReadCount` datagrams per system call, into one buffer NIO
            // slices evenly, so the buffer holds `vectorReadCount` datagrams of the largest size.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: Self.scratchSize * Self.vectorReadCount))
            .channelOption(.datagramVectorReadMessageCount, value: Self.vectorReadCount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MediaChannelHandler(loop: this.value))
                }
            }
        return bootstrap.bind(host: host, port: port).flatMap { channel in
            Self.sizeBuffers(channel, bytes: socketBufferBytes).map { (channel, $0) }
        }.map { channel, sizes in
            let loop = this.value
            loop.socketBuffers = sizes
            loop.channel = channel
            loop.localAddress = channel.localAddress.flatMap(TransportAddress.init)
            loop.timer = loop.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { _ in
                this.value.tick()
            }
        }
    }

    /// Asks for `bytes` of receive and send buffer (forcing past the sysctl caps when the process
    /// may; silently capped when not) and reads back what the kernel gave.
    private static func sizeBuffers(_ channel: any Channel, bytes: Int) -> EventLoopFuture<SocketBufferSizes> {
        guard let socket = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(SocketBufferSizes()) }
        let size = Int32(clamping: bytes)
        @Sendable func set(_ force: Int32, _ plain: NIOBSDSocket.Option) -> EventLoopFuture<Void> {
            guard size > 0 else { return channel.eventLoop.makeSucceededVoidFuture() }
            return socket.unsafeSetSocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: force), value: size)
                .flatMapError { _ in socket.unsafeSetSocketOption(level: .socket, name: plain, value: size) }
        }
        return set(SO_RCVBUFFORCE, .so_rcvbuf).flatMap { set(SO_SNDBUFFORCE, .so_sndbuf) }
            .flatMap { socket.unsafeGetSocketOption(level: .socket, name: .so_rcvbuf) as EventLoopFuture<Int32> }
            .flatMap { receive in
                (socket.unsafeGetSocketOption(level: .socket, name: .so_sndbuf) as EventLoopFuture<Int32>)
                    .map { SocketBufferSizes(receiveBytes: Int(receive), sendBytes: Int($0)) }
            }
            .recover { _ in SocketBufferSizes() }
    }

    func shutdown() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        for entry in entries.values {
            entry.transport.close(reason: "server shutting down")
            flushControl(entry)
        }
        flush()
        timer?.cancel()
        entries.removeAll()
        return channel?.close() ?? eventLoop.makeSucceededVoidFuture()
    }

    // MARK: - Transports (on the loop)

    /// Creates a transport for a peer that sent `remoteUfrag` and `remoteFingerprint` in its SDP.
    package func addTransport(
        remoteUfrag: String?, remoteFingerprint: DTLSFingerprint, purpose: TransportPurpose,
        credentials: ICECredentials = .random()
    ) throws -> (id: TransportID, credentials: ICECredentials) {
        eventLoop.preconditionInEventLoop()
        let now = Self.now()
        let context = try dtlsContext ?? DTLSContext(certificate: certificate, profiles: configuration.srtpProfiles)
        dtlsContext = context
        let transport = try WebRTCTransport(
            localCredentials: credentials, remoteUfrag: remoteUfrag, dtlsContext: context,
            remoteFingerprint: remoteFingerprint, configuration: configuration, now: now)
        let id = nextID
        nextID += 1
        entries[id] = TransportEntry(id: id, transport: transport, purpose: purpose, created: now)
        bindPurpose(id: id, purpose: purpose)
        router.register(ufrag: credentials.ufrag, for: id)
        counters.transportsOpened += 1
        logger.info("transport opened", metadata: ["transport": "\(id)", "ufrag": "\(credentials.ufrag)"])
        return (id, credentials)
    }

    /// Makes `id` reachable under a new local ufrag (after an ICE restart).
    func reregister(_ id: TransportID, ufrag: String) {
        router.register(ufrag: ufrag, for: id)
    }

    func removeTransport(_ id: TransportID, reason: String) {
        guard let entry = entries[id] else { return }
        entry.transport.close(reason: reason)
        flushControl(entry)
        if let snapshot = transportSnapshot(id) {
            recentlyClosed.append(snapshot)
            if recentlyClosed.count > Self.closedHistory { recentlyClosed.removeFirst() }
        }
        entries.removeValue(forKey: id)
        router.remove(id)
        unbindPurpose(entry, reason: reason)
        counters.transportsClosed += 1
        logger.info("transport closed", metadata: ["transport": "\(id)", "reason": "\(reason)"])
    }

    /// A snapshot for tests and stats: the transport's counters and state.
    func transportSnapshot(_ id: TransportID) -> TransportSnapshot? {
        guard let entry = entries[id] else { return nil }
        let t = entry.transport
        return TransportSnapshot(
            id: id, connected: t.isConnected, closed: t.isClosed, profile: t.srtp?.profile,
            selected: t.ice.selected, stats: t.stats, srtpCounters: t.srtpCounters, drops: t.drops)
    }

    public var transportCount: Int { entries.count }

    /// Snapshots of live transports, then of the most recently closed ones.
    package func allSnapshots() -> [TransportSnapshot] {
        entries.keys.sorted().compactMap(transportSnapshot) + recentlyClosed
    }

    // MARK: - Datagram path (on the loop)

    package func handleDatagram(_ envelope: AddressedEnvelope<ByteBuffer>) {
        counters.datagramsIn += 1
        let data = envelope.data
        let length = data.readableBytes
        counters.bytesIn &+= length
        guard length > 0, length <= Self.scratchSize - SRTPSession.maxTrailer,
              let source = TransportAddress(envelope.remoteAddress)
        else {
            counters.unrouted += 1
            return
        }
        data.withUnsafeReadableBytes { bytes in
            receive.copyMemory(from: bytes)
        }
        let view = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(receive)[0..<length])
        let id: TransportID?
        let isSTUN = PacketClass.classify(view) == .stun
        if isSTUN {
            if let message = try? STUNMessageView(parsing: view) {
                id = router.transport(forSTUN: message, from: source)
            } else {
                id = nil
            }
        } else {
            id = router.transport(forAddress: source)
        }
        guard let id, let entry = entries[id] else {
            counters.unrouted += 1
            return
        }
        let now = Self.now()
        let result = entry.transport.handleDatagram(receive, length: length, from: source, now: now)
        switch result {
        case .rtp(let n):
            latency.received(at: now)
            forwardRTP(entry: entry, length: n, now: now)
        case .rtcp(let n):
            forwardRTCP(entry: entry, length: n, now: now)
        case .handled:
            if isSTUN, entry.transport.ice.isValidated(source) {
                bindValidated(entry, source: source, socketAddress: envelope.remoteAddress, now: now)
            }
        case .dropped(let reason):
            counters.drops[reason, default: 0] += 1
        }
        flushControl(entry)
        handleEvents(entry)
    }

    /// How long without a check from an address before its transport's binding counts as stale: three
    /// RFC 7675 consent intervals (a full agent checks a pair about every 5 s, §5.1).
    static let bindingStaleAfter: Duration = .seconds(15)

    /// Binds a peer address that just passed a check on `entry` (RFC 8445 §7.3: a check that
    /// authenticates with this transport's password makes the address a valid peer-reflexive
    /// candidate), under two rules that keep the address tables safe:
    /// - An address bound to another transport that still has consent from it (a check within
    ///   `bindingStaleAfter`, RFC 7675 §5.1) is not moved: one check, which anyone holding this
    ///   transport's credentials can send with a spoofed source, must not take a live peer's media
    ///   path. The check is counted, and this transport forgets the address, so it never sends
    ///   there either (a lite agent cannot verify the source, RFC 8445 §2.5). Once the other
    ///   binding is stale (its peer moved or vanished, and a NAT gave the port to someone else),
    ///   the address moves.
    /// - A transport's bindings follow its ICE agent, which keeps `ICELiteAgent.maxValidated`
    ///   addresses: the ones it forgets are unbound, so checks from thousands of source ports
    ///   leave at most that many per transport.
    private func bindValidated(_ entry: TransportEntry, source: TransportAddress, socketAddress: SocketAddress, now: Instant) {
        if let owner = router.owner(of: source), owner != entry.id {
            if let other = entries[owner], !other.transport.isClosed,
               let last = other.transport.ice.lastCheck(from: source), now.since(last) < Self.bindingStaleAfter {
                counters.addressMovesRefused += 1
                entry.transport.forgetAddress(source)
                entry.socketAddresses[source] = nil
                return
            }
            router.unbind(source, from: owner)
            if let other = entries[owner] {
                other.socketAddresses[source] = nil
                other.transport.forgetAddress(source)
                if other.sendSocketAddress == socketAddress {
                    other.sendSocketAddress = other.transport.sendAddress.flatMap { other.socketAddresses[$0] }
                }
            }
        }
        if entry.socketAddresses[source] == nil {
            entry.socketAddresses[source] = socketAddress
            router.bind(source, to: entry.id)
            if entry.sendSocketAddress == nil { entry.sendSocketAddress = socketAddress }
        }
        guard entry.socketAddresses.count > entry.transport.ice.validated.count else { return }
        for address in Array(entry.socketAddresses.keys) where !entry.transport.ice.isValidated(address) {
            if entry.sendSocketAddress == entry.socketAddresses[address] {
                entry.sendSocketAddress = entry.transport.sendAddress.flatMap { entry.socketAddresses[$0] }
            }
            entry.socketAddresses[address] = nil
            router.unbind(address, from: entry.id)
        }
    }

    /// Addresses the port router holds, over all transports (tests).
    var boundAddressCount: Int { router.addressCount }

    /// Looks the consumer's subscriber transport up once and keeps it on the consumer.
    func bindSubscriberEntry(_ consumer: ConsumerTrack) -> TransportEntry? {
        let entry = entries[consumer.subscriber]
        consumer.subscriberEntry = entry
        // A new consumer may need an outbound SRTP slot a removed one still holds.
        if let entry, case .subscriber(let subscriber) = entry.purpose { retireOutputSSRCs(subscriber, entry: entry) }
        return entry
    }

    private func forwardRTP(entry: TransportEntry, length: Int, now: Instant) {
        switch entry.purpose {
        case .publisher(let publisher):
            forwardPublishedRTP(publisher, length: length, now: now)
        case .subscriber:
            return  // subscribe transports are sendonly on the relay's side

        case .echo(let echo):
            switch echo.rewriteRTP(receive, length: length) {
            case .drop:
                return
            case .echoAfterKeyframeRequest:
                sendRTCP(entry: entry, length: echo.buildKeyframeRequest(into: transmit))
            case .echo:
                break
            }
            sendProtectedRTP(entry: entry, length: length)
        }
    }

    private func forwardRTCP(entry: TransportEntry, length: Int, now: Instant) {
        switch entry.purpose {
        case .publisher(let publisher):
            handlePublisherRTCP(publisher, length: length, now: now)
        case .subscriber(let subscriber):
            handleSubscriberRTCP(subscriber, length: length, now: now)

        case .echo(let echo):
            let input = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(receive)[0..<length])
            sendRTCP(entry: entry, length: echo.translateRTCP(input, output: transmit))
        }
    }

    /// Protects and sends the RTCP compound of `length` bytes in the transmit scratch.
    func sendRTCP(entry: TransportEntry, length: Int) {
        guard length > 0 else { return }
        guard let protected = entry.transport.protectRTCP(transmit, length: length) else {
            counters.protectRefused += 1
            return
        }
        send(entry: entry, bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(transmit)[0..<protected]))
    }

    private func sendProtectedRTP(entry: TransportEntry, length: Int) {
        guard let protected = entry.transport.protectRTP(receive, length: length) else {
            counters.protectRefused += 1
            return
        }
        send(entry: entry, bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(receive)[0..<protected]))
    }

    /// Queues a copy of `bytes` for the entry's selected address; it leaves with the batch flush.
    func send(entry: TransportEntry, bytes: UnsafeRawBufferPointer) {
        guard let destination = entry.sendSocketAddress else { return }
        enqueue(bytes, to: destination)
    }

    private func enqueue(_ bytes: UnsafeRawBufferPointer, to destination: SocketAddress) {
        outbox.enqueue(bytes, to: destination)
        counters.datagramsOut += 1
        counters.bytesOut &+= bytes.count
        // A burst bigger than the ring's margin goes out early rather than outgrow the ring.
        if outbox.count >= MediaOutbox.flushThreshold { flush() }
    }

    /// Sends queued STUN responses and DTLS flights.
    private func flushControl(_ entry: TransportEntry) {
        while let (bytes, destination) = entry.transport.pollTransmit() {
            let address: SocketAddress
            if let known = entry.socketAddresses[destination] {
                address = known
            } else if let parsed = try? destination.socketAddress() {
                address = parsed  // error responses to addresses that never validated
            } else {
                continue
            }
            bytes.withUnsafeBytes { enqueue($0, to: address) }
        }
    }

    private func handleEvents(_ entry: TransportEntry) {
        while let event = entry.transport.pollEvent() {
            switch event {
            case .selected(let address):
                entry.sendSocketAddress = entry.socketAddresses[address] ?? entry.sendSocketAddress
                logger.info("ICE selected", metadata: ["transport": "\(entry.id)", "peer": "\(address)"])
            case .connected(let profile):
                logger.info("DTLS connected", metadata: ["transport": "\(entry.id)", "srtp": "\(profile)"])
                transportConnected(entry)
            case .failed(let reason):
                counters.dtlsFailures += 1
                logger.warning("transport failed", metadata: ["transport": "\(entry.id)", "reason": "\(reason)"])
                removeTransport(entry.id, reason: reason)
            case .closed(let reason):
                if reason.contains("consent") { counters.consentExpiries += 1 }
                removeTransport(entry.id, reason: reason)
            }
        }
    }

    /// Writes the outbox to the socket in one flush (NIO: one sendmmsg for several datagrams),
    /// and records the latency samples of the batch. Without a channel (benchmarks, shutdown) the
    /// datagrams are dropped.
    package func flush() {
        if let channel {
            // UDP has no backpressure but the kernel's send buffer: when it is full NIO keeps the
            // datagrams it could not write, and the channel stops being writable above its high
            // watermark. Media that late is useless, so it is dropped and counted rather than queued
            // without bound (a NACK or a keyframe request recovers what matters).
            var unwritable = 0
            outbox.drain { envelope in
                if channel.isWritable { channel.write(envelope, promise: nil) } else { unwritable += 1 }
            }
            counters.unwritableDrops &+= unwritable
            channel.flush()
        } else {
            outbox.drain { _ in }
        }
        if latency.hasPending { latency.flushed(at: Self.now()) }
    }

    /// This loop's forwarding figures; `resetLatency` starts a new latency window.
    func relayStatistics(loop index: Int, resetLatency: Bool) -> RelayStatistics {
        let statistics = RelayStatistics(
            loop: index, datagramsIn: counters.datagramsIn, datagramsOut: counters.datagramsOut, forwarded: counters.forwarded,
            retransmissions: counters.retransmissions, bytesIn: counters.bytesIn, bytesOut: counters.bytesOut,
            latencySamples: Int(latency.histogram.totalCount),
            latencyMicrosecondsP50: latency.microseconds(atPercentile: 50), latencyMicrosecondsP90: latency.microseconds(atPercentile: 90),
            latencyMicrosecondsP99: latency.microseconds(atPercentile: 99), latencyMicrosecondsMax: latency.maxMicroseconds)
        if resetLatency { latency.reset() }
        return statistics
    }

    // MARK: - Timers (on the loop)

    private func tick() {
        let now = Self.now()
        for room in rooms.values { tickRoom(room, now: now) }
        for entry in Array(entries.values) {
            guard let deadline = entry.transport.nextDeadline, deadline <= now else { continue }
            entry.transport.handleTimeout(now: now)
            flushControl(entry)
            handleEvents(entry)
        }
        flush()
    }
}

/// A Sendable copy of one transport's state, for tests, logs and the admin API.
public struct TransportSnapshot: Sendable, Equatable {
    public var id: TransportID
    public var connected: Bool
    public var closed: Bool
    public var profile: SRTPProfile?
    public var selected: TransportAddress?
    public var stats: WebRTCTransport.Stats
    public var srtpCounters: SRTPCounters
    public var drops: [TransportDropReason: Int]
}

/// Thin NIO adapter: hands each datagram to the loop and flushes once per read batch, so the
/// responses to a batch leave in one sendmmsg.
final class MediaChannelHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let loop: MediaLoop

    init(loop: MediaLoop) {
        self.loop = loop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        loop.handleDatagram(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        loop.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and the like surface here; a UDP relay keeps going.
        loop.logger.debug("media socket error", metadata: ["error": "\(error)"])
    }
}
