import Foundation
public import Logging
public import NIOCore
import NIOPosix
public import RelaisMedia
public import RelaisSignaling
public import RelaisTransport
import RelaisWire
import Synchronization

/// What one participant does.
public struct ClientOptions: Sendable {
    public var url: String
    public var room: String
    public var token: String
    /// Local address for media sockets (and the candidate the client offers).
    public var mediaHost = "127.0.0.1"
    /// What to publish; nil publishes nothing (observers, receive-only experts).
    public var publish: PublishSource?
    /// Receive and decode others' media (false for carts and load participants that only count).
    public var subscribe = true
    public var decode = true
    public var srtpProfiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80]
    /// Expert: a camera script to run once a cart advertises a camera.
    public var ptzScript: PTZScript?
    /// Cart: the cameras it advertises and executes the relay's commands on.
    public var cameras: [any CameraDriver] = []
    /// How often to send `ping` (Signaling/PROTOCOL.md §3: at least every 10 s; the relay closes
    /// a connection silent for 30 s, and the client would then resume every 30 s).
    public var keepaliveInterval: Duration = .seconds(5)

    public init(url: String, room: String, token: String) {
        self.url = url
        self.room = room
        self.token = token
    }
}

/// The participant's final (or periodic) report: JSON with `--json`.
public struct ClientReport: Sendable, Codable {
    public var participantId: String?
    public var role: String?
    public var joinMilliseconds: Double?
    public var durationSeconds: Double
    public var publish: PublishStatistics?
    public var tracks: [TrackReport]
    public var errors: [String]
    public var closedReason: String?
    /// Times the signaling socket dropped and the participant resumed its place (same id).
    public var resumes = 0
    /// Expert running a PTZ script: what it measured.
    public var ptz: PTZReport?
    /// Cart: the camera commands it executed.
    public var camera: CartCameraReport?
}

/// What a cart's cameras did.
public struct CartCameraReport: Sendable, Codable, Equatable {
    public var commandsExecuted = 0
    public var stops = 0
    /// Stops the relay itself sent (deadman, controller gone), `from` = "relay".
    public var relayStops = 0
    public var failed = 0
    public var positions: [String: CameraPosition] = [:]
    /// For each stop that ended a continuous move: milliseconds from the last move to the stop
    /// (a deadman stop shows the relay's timeout; a stop after the controller vanished, how fast
    /// the relay noticed).
    public var moveToStopMilliseconds: [Double] = []
}

/// Executes the relay's camera commands on the cart's drivers, one at a time and in order, and
/// acknowledges each with the resulting position.
actor CartCameras {
    private let drivers: [String: any CameraDriver]
    private let send: @Sendable (ClientMessage) -> Void
    private var report = CartCameraReport()
    private var lastMove: [String: ContinuousClock.Instant] = [:]

    init(drivers: [any CameraDriver], send: @escaping @Sendable (ClientMessage) -> Void) {
        self.drivers = Dictionary(drivers.map { ($0.description.cameraId, $0) }, uniquingKeysWith: { a, _ in a })
        self.send = send
    }

    func execute(_ body: CameraCommandBody) async {
        guard let driver = drivers[body.cameraId] else {
            send(.cameraAck(CameraAckBody(cameraId: body.cameraId, commandId: body.commandId, result: .failed, message: "no such camera on this cart")))
            return
        }
        let (result, position) = await driver.execute(body.command, now: ClientConnection.now())
        report.commandsExecuted += 1
        if case .move(let pan, let tilt, let zoom) = body.command, pan != 0 || tilt != 0 || zoom != 0 {
            lastMove[body.cameraId] = ContinuousClock.now
        } else if let moved = lastMove.removeValue(forKey: body.cameraId) {
            let elapsed = ContinuousClock.now - moved
            report.moveToStopMilliseconds.append(elapsed.milliseconds)
        }
        if body.command == .stop {
            report.stops += 1
            if body.from == "relay" { report.relayStops += 1 }
        }
        if result != .ok { report.failed += 1 }
        if let position { report.positions[body.cameraId] = position }
        send(.cameraAck(CameraAckBody(cameraId: body.cameraId, commandId: body.commandId, result: result, position: position)))
    }

    func snapshot() async -> CartCameraReport {
        var current = report
        for (id, driver) in drivers {
            if let position = await driver.position(now: ClientConnection.now()) { current.positions[id] = position }
        }
        return current
    }
}

/// A refusal from the server, with what it means for the operator.
public struct ServerRefusal: Error, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var description: String { "server refused: \(code.rawValue) (\(Self.meaning(code))): \(message)" }

    static func meaning(_ code: ErrorCode) -> String {
        switch code {
        case .invalidToken: "the token is malformed, forged, or lacks a claim"
        case .tokenExpired: "the token has expired; get a new one"
        case .wrongRoom: "the token is for another room"
        case .roomFull: "the room has its maximum of participants"
        case .forbidden: "this role may not do that"
        case .invalidSDP: "the relay could not use this SDP"
        case .noCommonCodec: "no codec in common with the relay"
        case .rateLimited: "too many messages"
        case .messageTooLarge: "a message was over the size limit"
        case .resumeFailed: "the place in the room was lost"
        default: "protocol error"
        }
    }
}

/// One participant in a room: signaling, the publish and subscribe connections and their media.
public final class ClientSession: @unchecked Sendable {
    // Mutable state is touched only from `run`'s task (signaling) or confined to `eventLoop` (media).
    let options: ClientOptions
    let logger: Logger
    let eventLoop: any EventLoop
    let certificate: DTLSCertificate
    private var signaling: SignalingChannel?
    /// The live signaling socket, replaced on a resume; the camera drivers and the PTZ runner send
    /// through it so their messages follow the participant to its new socket.
    private let current = CurrentChannel()
    private var resumeToken: String?
    private var resumeWindow: Duration = .seconds(15)
    private var publishConnection: NIOLoopBound<ClientConnection>?
    private var publishPipeline: NIOLoopBound<PublishPipeline>?
    private var publishLocal: ClientNegotiation.Local?
    private var subscribeConnection: NIOLoopBound<ClientConnection>?
    private var subscribePipeline: NIOLoopBound<SubscribePipeline>?
    private var subscribeStarted = false
    private var report = ClientReport(durationSeconds: 0, tracks: [], errors: [])
    private var ptzRunner: PTZRunner?
    private var cartCameras: CartCameras?
    private var cameraQueue: AsyncStream<CameraCommandBody>.Continuation?

    public init(options: ClientOptions, eventLoop: any EventLoop, logger: Logger) throws {
        self.options = options
        self.eventLoop = eventLoop
        self.logger = logger
        self.certificate = try DTLSCertificate.generateSelfSigned(commonName: "relais-client")
    }

    /// Joins, publishes, subscribes, runs for `duration` (or until the server ends the session),
    /// calls `progress` every second with a snapshot, then leaves and returns the final report.
    public func run(duration: Duration, progress: @escaping @Sendable (ClientReport) -> Void = { _ in }) async throws -> ClientReport {
        let started = ContinuousClock.now
        let signaling = SignalingChannel(url: options.url, logger: logger)
        self.signaling = signaling
        current.set(signaling)
        signaling.send(.join(Join(requestId: "join", room: options.room, token: options.token)))
        var messages = signaling.messages.makeAsyncIterator()

        // Join first: refusals end the run with the server's code.
        joinLoop: while let message = await messages.next() {
            switch message {
            case .joined(let joined):
                report.participantId = joined.participantId
                report.role = joined.role.rawValue
                report.joinMilliseconds = (ContinuousClock.now - started).milliseconds
                resumeToken = joined.resumeToken
                resumeWindow = .milliseconds(Int64(max(0, min(joined.resumeWindowSeconds, 3600)) * 1000))
                break joinLoop
            case .error(let error):
                throw ServerRefusal(code: error.code, message: error.message)
            default:
                continue
            }
        }
        guard report.participantId != nil else {
            var reasons = signaling.closed.makeAsyncIterator()
            throw ClientError.signalingClosed(await reasons.next() ?? "closed before joining")
        }
        if let source = options.publish { try await startPublishing(source) }
        var cameraTask: Task<Void, Never>?
        if !options.cameras.isEmpty {
            let cameras = CartCameras(drivers: options.cameras) { [current] in current.send($0) }
            cartCameras = cameras
            let (commands, queue) = AsyncStream<CameraCommandBody>.makeStream()
            cameraQueue = queue
            cameraTask = Task { for await command in commands { await cameras.execute(command) } }
            signaling.send(.cameras(CamerasBody(requestId: "cameras", cameras: options.cameras.map(\.description))))
        }
        var ptzTask: Task<PTZReport, Never>?
        if let script = options.ptzScript {
            let runner = PTZRunner(script: script) { [current] in current.send($0) }
            ptzRunner = runner
            ptzTask = Task { await runner.run() }
        }

        // Handle signaling until the deadline.
        let deadline = ContinuousClock.now + duration
        let messageTask = Task { [self] in
            while true {
                while let message = await messages.next() {
                    await self.handle(message)
                }
                // The socket ended without `left` (a dropped link): take the place back.
                guard !Task.isCancelled, report.closedReason == nil else { return }
                guard let resumed = await self.resumeSignaling() else {
                    if report.closedReason == nil { report.closedReason = "signaling lost; resume failed" }
                    return
                }
                messages = resumed
            }
        }
        // Until the deadline, or until the server said `left` (an operator ended the consultation
        // or removed this participant, or the relay is shutting down).
        var lastKeepalive = ContinuousClock.now
        while ContinuousClock.now < deadline, report.closedReason == nil {
            try? await Task.sleep(for: min(.seconds(1), options.keepaliveInterval))
            if ContinuousClock.now - lastKeepalive >= options.keepaliveInterval {
                current.send(.ping(RequestBody(requestId: "keepalive")))
                lastKeepalive = ContinuousClock.now
            }
            progress(await snapshot(since: started))
        }
        if let ptzTask { report.ptz = await ptzTask.value }
        messageTask.cancel()
        cameraQueue?.finish()
        await cameraTask?.value
        if let cartCameras { report.camera = await cartCameras.snapshot() }
        current.send(.leave(RequestBody(requestId: "leave")))
        let final = await snapshot(since: started)
        await stopMedia()
        current.close()
        return final
    }

    /// Reconnects and sends `resume` (Signaling/PROTOCOL.md) until the relay answers or the resume
    /// window closes, backing off between attempts. The relay keeps the media connections and
    /// sends a fresh subscribe offer; it took this participant out of camera control when the
    /// socket dropped (stopping its motion), so a cart advertises its cameras again.
    private func resumeSignaling() async -> AsyncStream<ServerMessage>.Iterator? {
        guard let token = resumeToken else { return nil }
        let deadline = ContinuousClock.now + resumeWindow
        var attempt = 0
        while ContinuousClock.now < deadline, !Task.isCancelled {
            attempt += 1
            let channel = SignalingChannel(url: options.url, logger: logger)
            channel.send(.resume(Resume(requestId: "resume", resumeToken: token)))
            var messages = channel.messages.makeAsyncIterator()
            while let message = await messages.next() {
                switch message {
                case .resumed(let resumed):
                    resumeToken = resumed.resumeToken
                    signaling?.close()
                    signaling = channel
                    current.set(channel)
                    report.resumes += 1
                    logger.info("signaling resumed", metadata: ["attempt": "\(attempt)"])
                    if !options.cameras.isEmpty {
                        channel.send(.cameras(CamerasBody(requestId: "cameras", cameras: options.cameras.map(\.description))))
                    }
                    return messages
                case .error(let error):
                    report.errors.append("resume: \(error.code.rawValue): \(error.message)")
                    channel.close()
                    return nil
                default:
                    continue
                }
            }
            channel.close()
            // Backoff between attempts (the link may still be down).
            try? await Task.sleep(for: .milliseconds(min(250 * attempt, 2000)))
        }
        return nil
    }

    private func handle(_ message: ServerMessage) async {
        if let ptzRunner { await ptzRunner.receive(message) }
        switch message {
        case .answer(let answer) where answer.target == .publish:
            await publishAnswered(answer.sdp)
        case .offer(let offer) where offer.target == .subscribe:
            await subscribeOffered(offer)
        case .error(let error) where error.requestId.map({ $0.hasPrefix("cmd-") || $0.hasPrefix("move-") || $0.hasPrefix("floor-") }) ?? false:
            break  // the PTZ runner accounts for refusals of its own requests
        case .error(let error):
            report.errors.append("\(error.code.rawValue): \(error.message)")
            logger.warning("server error", metadata: ["code": "\(error.code.rawValue)", "meaning": "\(ServerRefusal.meaning(error.code))", "message": "\(error.message)"])
        case .left(let left):
            report.closedReason = "left: \(left.reason.rawValue)"
        case .cameraCommand(let command):
            cameraQueue?.yield(command)
        default:
            break
        }
    }

    // MARK: Publishing

    private func startPublishing(_ source: PublishSource) async throws {
        let bound = try await ClientConnection.bind(host: options.mediaHost, eventLoop: eventLoop).get()
        let fingerprint = certificate.fingerprintSHA256
        let credentials = ICECredentials.random()
        let (local, video, audioSSRC, pipeline) = try await eventLoop.submit { () throws -> (ClientNegotiation.Local, ClientNegotiation.VideoOffer?, UInt32?, NIOLoopBound<PublishPipeline>) in
            let connection = bound.value
            let pipeline = try PublishPipeline(connection: connection, source: source)
            let local = ClientNegotiation.Local(credentials: credentials, fingerprint: fingerprint, address: connection.localAddress)
            return (local, pipeline.videoOffer, source.audio != nil ? pipeline.audioSSRC : nil,
                    NIOLoopBound(pipeline, eventLoop: connection.eventLoop))
        }.get()
        publishConnection = bound
        publishPipeline = pipeline
        publishLocal = local
        let offer = ClientNegotiation.publishOffer(local: local, video: video, audioSSRC: audioSSRC, stream: "relais-client")
        signaling?.send(.offer(SessionDescriptionBody(requestId: "publish", target: .publish, sdp: offer)))
    }

    private func publishAnswered(_ sdp: String) async {
        guard let bound = publishConnection, let local = publishLocal else { return }
        do {
            let (answer, remote) = try ClientNegotiation.remoteTransport(sdp)
            let transport = try makeTransport(local: local, remote: remote)
            let transportWide = ClientNegotiation.answersTransportWideCC(answer)
            let layers = ClientNegotiation.answeredSimulcastLayers(answer)
            let repair = ClientNegotiation.answersRepair(answer)
            let pipeline = publishPipeline
            try await eventLoop.submit {
                pipeline?.value.applyAnswer(
                    transportWideID: transportWide ? ClientNegotiation.transportWideCCExtensionID : nil, simulcastLayers: layers, repair: repair)
                bound.value.start(transport: transport.value, remoteCandidates: remote.candidates)
            }.get()
        } catch {
            report.errors.append("publish: \(error)")
        }
    }

    private func makeTransport(local: ClientNegotiation.Local, remote: SDPTransportAttributes) throws -> UncheckedBox<ClientTransport> {
        var configuration = TransportConfiguration()
        configuration.srtpProfiles = options.srtpProfiles
        return UncheckedBox(try ClientTransport(
            local: local.credentials, remote: remote.credentials,
            localCandidates: [ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: local.address, type: .host)],
            certificate: certificate, remoteFingerprint: remote.fingerprint, configuration: configuration))
    }

    // MARK: Subscribing

    private func subscribeOffered(_ offer: SessionDescriptionBody) async {
        guard options.subscribe, let revision = offer.revision else { return }
        do {
            let (description, remote) = try ClientNegotiation.remoteTransport(offer.sdp)
            if subscribeConnection == nil {
                let bound = try await ClientConnection.bind(host: options.mediaHost, eventLoop: eventLoop).get()
                let decode = options.decode
                let start = ClientConnection.now()
                subscribeConnection = bound
                subscribePipeline = try await eventLoop.submit {
                    NIOLoopBound(SubscribePipeline(connection: bound.value, decode: decode, started: start), eventLoop: bound.value.eventLoop)
                }.get()
            }
            guard let bound = subscribeConnection, let pipeline = subscribePipeline else { return }
            let address = try await eventLoop.submit { bound.value.localAddress }.get()
            let local = ClientNegotiation.Local(credentials: subscribeCredentials, fingerprint: certificate.fingerprintSHA256, address: address)
            let (answer, sections) = ClientNegotiation.subscribeAnswer(offer: description, local: local)
            try await eventLoop.submit { pipeline.value.update(sections: sections) }.get()
            signaling?.send(.answer(SessionDescriptionBody(target: .subscribe, revision: revision, sdp: answer)))
            if !subscribeStarted {
                subscribeStarted = true
                let transport = try makeTransport(local: local, remote: remote)
                try await eventLoop.submit { bound.value.start(transport: transport.value, remoteCandidates: remote.candidates) }.get()
            }
        } catch {
            report.errors.append("subscribe: \(error)")
        }
    }

    private lazy var subscribeCredentials = ICECredentials.random()

    // MARK: Reporting

    private func snapshot(since started: ContinuousClock.Instant) async -> ClientReport {
        var current = report
        current.durationSeconds = (ContinuousClock.now - started).milliseconds / 1000
        if let pipeline = publishPipeline {
            current.publish = try? await eventLoop.submit { pipeline.value.statistics }.get()
        }
        if let pipeline = subscribePipeline {
            current.tracks = (try? await eventLoop.submit { pipeline.value.reports }.get()) ?? []
        }
        if let cartCameras { current.camera = await cartCameras.snapshot() }
        return current
    }

    private func stopMedia() async {
        let publishPipeline = self.publishPipeline, publishConnection = self.publishConnection, subscribeConnection = self.subscribeConnection
        _ = try? await eventLoop.submit {
            publishPipeline?.value.stop()
            publishConnection?.value.close()
            subscribeConnection?.value.close()
        }.get()
    }
}

public enum ClientError: Error, CustomStringConvertible {
    case signalingClosed(String)
    public var description: String {
        switch self { case .signalingClosed(let why): "signaling ended: \(why)" }
    }
}

/// The participant's current signaling socket, shared with the tasks that send on it.
final class CurrentChannel: Sendable {
    private let channel = Mutex<SignalingChannel?>(nil)

    func set(_ new: SignalingChannel) { channel.withLock { $0 = new } }
    func send(_ message: ClientMessage) { channel.withLock { $0 }?.send(message) }
    func close() { channel.withLock { $0 }?.close() }
}

/// Hands a loop-confined object to the loop that will own it.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
