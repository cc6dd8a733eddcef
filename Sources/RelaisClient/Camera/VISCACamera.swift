public import NIOCore
import NIOPosix
public import RelaisSignaling
public import RelaisWire

public enum VISCACameraError: Error, Sendable, Equatable {
    /// The camera did not acknowledge the RESET control command sent on connecting.
    case noResetReply
    case resetRefused(VISCAControl.Reply)
}

/// What the VISCA socket saw, for diagnostics and tests.
public struct VISCACounters: Sendable, Equatable {
    public var datagramsSent = 0
    public var datagramsReceived = 0
    public var acks = 0
    public var completions = 0
    /// VISCA error replies and control error replies.
    public var errors = 0
    public var retransmissions = 0
    public var timeouts = 0
    /// Datagrams that did not parse, or came from another address.
    public var malformed = 0
    public var foreign = 0
    /// Replies to no outstanding sequence number (late, duplicated).
    public var unmatched = 0
}

/// A camera driven over VISCA-over-IP (UDP, port 52381 by default).
///
/// On connecting, it sends the RESET control command (resets the camera's sequence number) and
/// waits for its reply. Every message then carries the next sequence number (RESET is 0; the
/// counter wraps); replies are matched to their message by the sequence number the camera
/// echoes. Commands wait for the ACK (`ackTimeout`, then one retransmission of the same
/// datagram with the same sequence number, then failure), then for the completion
/// (`completionTimeout`: cameras complete positioning commands when the motion ends, so allow
/// for a full traverse). Inquiries and control commands have no ACK: the `ackTimeout` and the
/// single retransmission apply to their reply. An error reply, or no reply, is `.failed`.
///
/// Concurrency: one command at a time is *sent* (a command's messages go out back to back, each
/// after the previous one's ACK, so a `stop` cannot land between a `move`'s pan-tilt and zoom
/// messages); the completions are awaited after that, so a `stop` can be sent while a preset
/// recall is still travelling (the camera has two command sockets).
///
/// Mapping: see `VISCAUnits` (model-specific). `relative` is an inquiry then an absolute
/// position (VISCA has no relative zoom); `absolute` with only one of pan and tilt inquires the
/// other; `home` is zoom to the wide end then Pan-tilt Home, matching the simulated camera's
/// (0°, 0°, 1x). With `reportsPosition`, a successful command is followed by position
/// inquiries for the acknowledgement. `now` is not used: the camera keeps real time.
public actor VISCACamera: CameraDriver {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var units: VISCAUnits
        public var ackTimeout: Duration
        public var completionTimeout: Duration
        /// Speeds for absolute positioning (VV 01-18, WW 01-17).
        public var positioningPanSpeed: UInt8
        public var positioningTiltSpeed: UInt8
        public var reportsPosition: Bool

        public init(host: String, port: Int = VISCAMessage.defaultPort, units: VISCAUnits = VISCAUnits(),
                    ackTimeout: Duration = .seconds(1), completionTimeout: Duration = .seconds(10),
                    positioningPanSpeed: UInt8 = 0x18, positioningTiltSpeed: UInt8 = 0x17, reportsPosition: Bool = true) {
            self.host = host
            self.port = port
            self.units = units
            self.ackTimeout = ackTimeout
            self.completionTimeout = completionTimeout
            self.positioningPanSpeed = positioningPanSpeed
            self.positioningTiltSpeed = positioningTiltSpeed
            self.reportsPosition = reportsPosition
        }
    }

    /// A description for a VISCA PTZ camera with the given ranges (all capabilities; presets
    /// are capped at VISCA's 128 memories).
    public static func description(cameraId: String = "main", name: String = "VISCA PTZ camera", presets: Int = 16,
                                   pan: AxisRange = AxisRange(min: -170, max: 170), tilt: AxisRange = AxisRange(min: -30, max: 90),
                                   zoom: AxisRange = AxisRange(min: 1, max: 12)) -> CameraDescription {
        CameraDescription(cameraId: cameraId, name: name, capabilities: CameraCapabilities(
            continuousPanTilt: true, continuousZoom: true, absolutePosition: true, relativePosition: true, focus: true,
            presets: min(max(0, presets), 128), pan: pan, tilt: tilt, zoom: zoom))
    }

    public nonisolated let description: CameraDescription
    public nonisolated let configuration: Configuration
    private let channel: any Channel
    private let handler: NIOLoopBound<VISCAClientHandler>
    private var sending = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Binds a UDP socket (on `group`, NIO's singleton group by default), sends RESET and waits
    /// for its reply.
    public static func connect(description: CameraDescription, configuration: Configuration,
                               group: (any EventLoopGroup)? = nil) async throws -> VISCACamera {
        let remote = try SocketAddress.makeAddressResolvingHost(configuration.host, port: configuration.port)
        let channel = try await DatagramBootstrap(group: group ?? MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(VISCAClientHandler(remote: remote)) }
            }
            .bind(host: remote.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            .get()
        do {
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: VISCAClientHandler.self), eventLoop: channel.eventLoop)
            }.get()
            let camera = VISCACamera(description: description, configuration: configuration, channel: channel, handler: handler)
            try await camera.reset()
            return camera
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private init(description: CameraDescription, configuration: Configuration, channel: any Channel, handler: NIOLoopBound<VISCAClientHandler>) {
        self.description = description
        self.configuration = configuration
        self.channel = channel
        self.handler = handler
    }

    public func close() async {
        try? await channel.close()
    }

    public func counters() async -> VISCACounters {
        let handler = self.handler
        return (try? await channel.eventLoop.submit { handler.value.counters }.get()) ?? VISCACounters()
    }

    // MARK: CameraDriver

    public func execute(_ command: CameraCommand, now: Instant) async -> (CameraResult, CameraPosition?) {
        guard description.capabilities.allows(command) else { return (.unsupported, nil) }
        await acquire()
        guard let steps = await plan(command) else {
            release()
            return (.failed, nil)
        }
        var completions: [EventLoopFuture<VISCAOutcome>] = []
        var accepted = true
        for step in steps {
            guard let (ack, completion) = await start(.command, step.encoded()) else {
                accepted = false
                break
            }
            completions.append(completion)
            let acked = try? await ack.get()
            if acked != true {
                accepted = false
                break
            }
        }
        release()
        var ok = accepted
        for completion in completions {
            if case .completed = try? await completion.get() { continue }
            ok = false
        }
        guard ok else { return (.failed, nil) }
        return (.ok, configuration.reportsPosition ? await position(now: now) : nil)
    }

    public func position(now: Instant) async -> CameraPosition? {
        await acquire()
        defer { release() }
        return await readPosition()
    }

    // MARK: Planning

    private func plan(_ command: CameraCommand) async -> [VISCACommand]? {
        let capabilities = description.capabilities
        let units = configuration.units
        switch command {
        case .move(let pan, let tilt, let zoom):
            guard pan.isFinite, tilt.isFinite, zoom.isFinite else { return nil }
            var steps: [VISCACommand] = []
            if capabilities.continuousPanTilt { steps.append(units.drive(pan: pan, tilt: tilt)) }
            if capabilities.continuousZoom { steps.append(units.zoom(zoom)) }
            return steps
        case .stop:
            var steps: [VISCACommand] = []
            if capabilities.continuousPanTilt { steps.append(.panTiltDrive(panSpeed: 1, tiltSpeed: 1, pan: .stop, tilt: .stop)) }
            if capabilities.continuousZoom { steps.append(.zoomStop) }
            return steps
        case .absolute(let pan, let tilt, let zoom):
            guard [pan, tilt, zoom].allSatisfy({ $0.map(\.isFinite) ?? true }),
                  pan.map(capabilities.pan.contains) ?? true, tilt.map(capabilities.tilt.contains) ?? true,
                  zoom.map(capabilities.zoom.contains) ?? true else { return nil }
            return await positioning(pan: pan, tilt: tilt, zoom: zoom)
        case .relative(let pan, let tilt, let zoom):
            guard [pan, tilt, zoom].allSatisfy({ $0.map(\.isFinite) ?? true }) else { return nil }
            guard let current = await readPosition() else { return nil }
            func clamp(_ value: Double, _ range: AxisRange) -> Double { min(range.max, max(range.min, value)) }
            return await positioning(pan: pan.map { clamp(current.pan + $0, capabilities.pan) },
                                     tilt: tilt.map { clamp(current.tilt + $0, capabilities.tilt) },
                                     zoom: zoom.map { clamp(current.zoom + $0, capabilities.zoom) },
                                     current: current)
        case .focus(let mode, let position):
            switch mode {
            case .auto:
                return [.focusAuto]
            case .manual:
                guard let position else { return [.focusManual] }
                guard position.isFinite, position >= 0, position <= 1 else { return nil }
                return [.focusManual, .focusDirect(position: units.focusPosition(position))]
            }
        case .presetGoto(let preset):
            guard let memory = Self.memory(preset, capabilities) else { return nil }
            return [.presetRecall(memory)]
        case .presetSave(let preset):
            guard let memory = Self.memory(preset, capabilities) else { return nil }
            return [.presetSet(memory)]
        case .home:
            return [.zoomDirect(position: units.zoomPosition(factor: capabilities.zoom.min)), .panTiltHome]
        }
    }

    private static func memory(_ preset: Int, _ capabilities: CameraCapabilities) -> UInt8? {
        guard preset >= 0, preset < min(capabilities.presets, 128) else { return nil }
        return UInt8(preset)
    }

    private func positioning(pan: Double?, tilt: Double?, zoom: Double?, current: CameraPosition? = nil) async -> [VISCACommand]? {
        let units = configuration.units
        var steps: [VISCACommand] = []
        if pan != nil || tilt != nil {
            var panUnits = pan.map(units.panUnits(degrees:)), tiltUnits = tilt.map(units.tiltUnits(degrees:))
            if panUnits == nil || tiltUnits == nil {
                // VISCA positions both axes at once: keep the other where it is.
                if let current {
                    panUnits = panUnits ?? units.panUnits(degrees: current.pan)
                    tiltUnits = tiltUnits ?? units.tiltUnits(degrees: current.tilt)
                } else {
                    guard let raw = await inquirePanTilt() else { return nil }
                    panUnits = panUnits ?? raw.pan
                    tiltUnits = tiltUnits ?? raw.tilt
                }
            }
            steps.append(.panTiltAbsolute(panSpeed: configuration.positioningPanSpeed, tiltSpeed: configuration.positioningTiltSpeed,
                                          pan: panUnits ?? 0, tilt: tiltUnits ?? 0))
        }
        if let zoom { steps.append(.zoomDirect(position: units.zoomPosition(factor: zoom))) }
        return steps
    }

    // MARK: Inquiries

    private func readPosition() async -> CameraPosition? {
        guard let panTilt = await inquirePanTilt(),
              let data = await inquire(.zoomPosition), let zoom = try? VISCAInquiry.zoom(fromCompletionData: data) else { return nil }
        let units = configuration.units
        return CameraPosition(pan: units.panDegrees(units: panTilt.pan), tilt: units.tiltDegrees(units: panTilt.tilt),
                              zoom: units.zoomFactor(position: zoom))
    }

    private func inquirePanTilt() async -> (pan: Int16, tilt: Int16)? {
        guard let data = await inquire(.panTiltPosition) else { return nil }
        return try? VISCAInquiry.panTilt(fromCompletionData: data)
    }

    private func inquire(_ inquiry: VISCAInquiry) async -> [UInt8]? {
        guard let (_, completion) = await start(.inquiry, inquiry.encoded()),
              case .completed(let data) = try? await completion.get() else { return nil }
        return data
    }

    private func reset() async throws {
        guard let (_, completion) = await start(.controlCommand, VISCAControl.reset) else { throw VISCACameraError.noResetReply }
        switch try await completion.get() {
        case .completed: return
        case .controlError(let reply): throw VISCACameraError.resetRefused(reply)
        case .error, .timedOut, .closed: throw VISCACameraError.noResetReply
        }
    }

    // MARK: Transport

    private func start(_ type: VISCAPayloadType, _ payload: [UInt8]) async -> (EventLoopFuture<Bool>, EventLoopFuture<VISCAOutcome>)? {
        let handler = self.handler
        let ackTimeout = TimeAmount.nanoseconds(Int64(clamping: configuration.ackTimeout.nanosecondsClamped))
        let completionTimeout = TimeAmount.nanoseconds(Int64(clamping: configuration.completionTimeout.nanosecondsClamped))
        return try? await channel.eventLoop.submit {
            handler.value.start(type, payload: payload, ackTimeout: ackTimeout, completionTimeout: completionTimeout)
        }.get()
    }

    /// FIFO ownership of the sending side, handed directly from releaser to the next waiter.
    private func acquire() async {
        if !sending {
            sending = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            sending = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}

/// How a VISCA transaction ended.
public enum VISCAOutcome: Sendable, Equatable {
    /// Completion (with inquiry data, if any), or the control reply acknowledging RESET.
    case completed([UInt8])
    case error(VISCAErrorCode)
    case controlError(VISCAControl.Reply)
    case timedOut
    case closed
}

/// The socket's side of VISCA-over-IP, on the channel's event loop: sequence numbers,
/// retransmission, timeouts, matching replies to messages.
final class VISCAClientHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private struct Transaction {
        let datagram: [UInt8]
        let ackTimeout: TimeAmount
        let completionTimeout: TimeAmount
        let ack: EventLoopPromise<Bool>
        let completion: EventLoopPromise<VISCAOutcome>
        var acked = false
        var retransmitted = false
        var timer: Scheduled<Void>?
    }

    private let remote: SocketAddress
    private var context: ChannelHandlerContext?
    private var transactions: [UInt32: Transaction] = [:]
    private var nextSequence: UInt32 = 0
    private(set) var counters = VISCACounters()

    init(remote: SocketAddress) {
        self.remote = remote
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        finishAll(.closed)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finishAll(.closed)
        context.fireChannelInactive()
    }

    /// Sends a message with the next sequence number. The first future is true on ACK, false
    /// when the transaction ended without one (then the second tells how).
    func start(_ type: VISCAPayloadType, payload: [UInt8], ackTimeout: TimeAmount,
               completionTimeout: TimeAmount) -> (EventLoopFuture<Bool>, EventLoopFuture<VISCAOutcome>) {
        guard let context else {
            return (remoteFuture(false), remoteFuture(VISCAOutcome.closed))
        }
        let sequence = nextSequence
        nextSequence &+= 1
        let transaction = Transaction(datagram: VISCAMessage(payloadType: type, sequence: sequence, payload: payload).encoded(),
                                      ackTimeout: ackTimeout, completionTimeout: completionTimeout,
                                      ack: context.eventLoop.makePromise(), completion: context.eventLoop.makePromise())
        transactions[sequence] = transaction
        send(transaction.datagram)
        arm(sequence, in: ackTimeout)
        return (transaction.ack.futureResult, transaction.completion.futureResult)
    }

    private func remoteFuture<T: Sendable>(_ value: T) -> EventLoopFuture<T> {
        // No context (removed): any loop will do for an already-completed future.
        MultiThreadedEventLoopGroup.singleton.next().makeSucceededFuture(value)
    }

    private func send(_ datagram: [UInt8]) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: datagram.count)
        buffer.writeBytes(datagram)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: buffer)), promise: nil)
        counters.datagramsSent += 1
    }

    private func arm(_ sequence: UInt32, in delay: TimeAmount) {
        guard let context else { return }
        transactions[sequence]?.timer?.cancel()
        transactions[sequence]?.timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            expired(sequence)
        }
    }

    private func expired(_ sequence: UInt32) {
        guard var transaction = transactions[sequence] else { return }
        if !transaction.acked, !transaction.retransmitted {
            transaction.retransmitted = true
            transactions[sequence] = transaction
            counters.retransmissions += 1
            send(transaction.datagram)
            arm(sequence, in: transaction.ackTimeout)
        } else {
            counters.timeouts += 1
            finish(sequence, .timedOut)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        counters.datagramsReceived += 1
        guard envelope.remoteAddress == remote else {
            counters.foreign += 1
            return
        }
        guard let message = try? VISCAMessage(parsing: envelope.data.readableBytesView) else {
            counters.malformed += 1
            return
        }
        let sequence = message.sequence
        guard var transaction = transactions[sequence] else {
            counters.unmatched += 1
            return
        }
        switch message.payloadType {
        case .reply:
            guard let reply = try? VISCAReply(parsing: message.payload) else {
                counters.malformed += 1
                return
            }
            switch reply {
            case .ack:
                counters.acks += 1
                guard !transaction.acked else { return }
                transaction.acked = true
                transactions[sequence] = transaction
                transaction.ack.succeed(true)
                arm(sequence, in: transaction.completionTimeout)
            case .completion(_, let data):
                counters.completions += 1
                finish(sequence, .completed(data))
            case .error(_, let code):
                counters.errors += 1
                finish(sequence, .error(code))
            }
        case .controlReply:
            guard let reply = try? VISCAControl.Reply(parsing: message.payload) else {
                counters.malformed += 1
                return
            }
            if reply == .ack { counters.completions += 1 } else { counters.errors += 1 }
            finish(sequence, reply == .ack ? .completed([]) : .controlError(reply))
        case .command, .inquiry, .deviceSettingCommand, .controlCommand:
            counters.malformed += 1
        }
    }

    private func finish(_ sequence: UInt32, _ outcome: VISCAOutcome) {
        guard let transaction = transactions.removeValue(forKey: sequence) else { return }
        transaction.timer?.cancel()
        if !transaction.acked { transaction.ack.succeed(false) }
        transaction.completion.succeed(outcome)
    }

    private func finishAll(_ outcome: VISCAOutcome) {
        for sequence in Array(transactions.keys) { finish(sequence, outcome) }
    }
}
