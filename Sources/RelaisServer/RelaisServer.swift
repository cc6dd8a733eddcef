public import Hummingbird
import HummingbirdWebSocket
public import Logging
public import RelaisAuth
public import RelaisSignaling
import ServiceLifecycle
import NIOCore
import NIOPosix
public import RelaisTransport
public import RelaisHistory
import Foundation

/// Everything `relais-server` runs, with embedded defaults that need no configuration.
public struct ServerConfiguration: Sendable {
    /// HTTP and WebSocket signaling (and, later, the admin API). Loopback by default.
    public var httpHost = "127.0.0.1"
    public var httpPort = 8088
    public var media = MediaConfiguration()
    public var signaling = SignalingConfiguration()
    /// PEM certificate and key for DTLS; a fresh ECDSA P-256 certificate is generated when nil.
    public var dtlsCertificatePEM: (certificate: String, privateKey: String)?
    /// Consultation history and audit trail in SQLite; nil keeps none (tests that don't need it).
    public var history: HistoryConfiguration?

    public init() {}
}

/// The relay process: media loops plus the HTTP signaling front.
///
/// `run()` serves until cancelled or until SIGINT/SIGTERM (Hummingbird's graceful shutdown), then
/// closes every transport with a DTLS close_notify and releases the sockets.
public struct RelaisServerApp: Sendable {
    public let configuration: ServerConfiguration
    public let logger: Logger

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Starts media, then HTTP; `onReady` receives the bound addresses (for tests binding port 0).
    public func run(onReady: @escaping @Sendable (RunningServer) async -> Void = { _ in }) async throws {
        let certificate: DTLSCertificate
        if let pem = configuration.dtlsCertificatePEM {
            certificate = try DTLSCertificate(pemCertificate: pem.certificate, pemPrivateKey: pem.privateKey)
        } else {
            certificate = try DTLSCertificate.generateSelfSigned(commonName: "relais")
        }
        logger.info("DTLS certificate", metadata: ["fingerprint": "\(certificate.fingerprintSHA256)"])

        // The media loops get threads of their own, apart from the HTTP and WebSocket loops: a
        // storm of connections or signaling (a hostile client, a reconnecting ward) then shares the
        // cores with forwarding through the kernel's scheduler instead of queueing on the loop
        // that forwards a consultation's packets (mediasoup keeps its workers apart for the same reason).
        let mediaThreads = configuration.media.loops > 0 ? configuration.media.loops : System.coreCount
        let mediaGroup = MultiThreadedEventLoopGroup(numberOfThreads: mediaThreads)
        defer { mediaGroup.shutdownGracefully { _ in } }
        let media = try await MediaServer.start(
            configuration: configuration.media, certificate: certificate, group: mediaGroup, logger: logger)

        let secret: String
        if let configured = configuration.signaling.tokenSecret {
            secret = configured
        } else {
            secret = "dev-" + randomToken(40)
            logger.warning(
                "no token secret configured: generated a DEVELOPMENT secret for this run only; mint tokens with `relais-server token --token-secret <secret>`",
                metadata: ["secret": "\(secret)"])
        }
        let tokens = try await TokenAuthority(secret: secret)
        let recorder = try await openHistory()
        let observer = ServerObserver(events: SessionEventHub(), metrics: ServerMetrics(), history: recorder)
        let registry = RoomRegistry(media: media, configuration: configuration.signaling, observer: observer, logger: logger)
        let signaling = SignalingContext(registry: registry, tokens: tokens, configuration: configuration.signaling, observer: observer, logger: logger)

        let router = Router()
        SignalingRoutes(media: media, tokens: tokens, metrics: observer.metrics, maxEchoSessions: configuration.signaling.maxEchoSessions, logger: logger)
            .register(on: router)
        AdminRoutes(registry: registry, media: media, tokens: tokens, observer: observer, logger: logger).register(on: router)
        let app = Application(
            router: router,
            server: SignalingUpgrade.server(
                configuration: .init(maxFrameSize: SignalingConnection.transportFrameLimit, autoPing: .enabled(timePeriod: .seconds(15)))
            ) { inbound, outbound, peer, channel in
                await SignalingConnection(context: signaling).serve(inbound: inbound, outbound: outbound, peer: peer, channel: channel)
            },
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "relais"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                await onReady(RunningServer(httpPort: port, media: media, tokens: tokens, registry: registry, observer: observer))
            },
            logger: logger
        )
        // Rooms shut down before the HTTP server (services stop in reverse order): every
        // participant is told `left: shutdown` while its WebSocket is still open.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: RoomShutdown(registry: registry, observer: observer))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let pruning = recorder.map { recorder in
            Task {
                // Retention: prune once an hour (the store also prunes when it opens).
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(3600))
                    if Task.isCancelled { return }
                    _ = try? await recorder.read { try $0.prune() }
                }
            }
        }
        defer { pruning?.cancel() }
        do {
            try await group.run()
        } catch {
            await stop(registry: registry, media: media, observer: observer)
            throw error
        }
        await stop(registry: registry, media: media, observer: observer)
    }

    private func stop(registry: RoomRegistry, media: MediaServer, observer: ServerObserver) async {
        await registry.shutdown()
        await media.shutdown()
        observer.events.finishAll()
        await observer.history?.finish()
        try? observer.history?.store.close()
    }

    /// Opens the history database; consultations a crash left open are closed as `server_restart`.
    private func openHistory() async throws -> HistoryRecorder? {
        guard let history = configuration.history else { return nil }
        let store = try HistoryStore(configuration: history)
        let dangling = try store.closeDangling(at: Date(), reason: "server_restart")
        if dangling > 0 { logger.warning("closed consultations left open by a previous run", metadata: ["count": "\(dangling)"]) }
        logger.info("history", metadata: ["path": "\(history.path)", "retention_days": "\(Int(history.retention.components.seconds / 86_400))"])
        return HistoryRecorder(store: store, logger: logger)
    }
}

/// What a started server exposes to its embedder (tests, the executable's startup banner).
public struct RunningServer: Sendable {
    public let httpPort: Int
    public let media: MediaServer
    /// Signs tokens with the running server's secret (tests, the startup banner).
    public let tokens: TokenAuthority
    let registry: RoomRegistry
    let observer: ServerObserver

    /// The history store, when the server keeps one.
    public var history: HistoryRecorder? { observer.history }
    public var events: SessionEventHub { observer.events }

    /// Camera commands accepted or refused, newest last (the audit trail).
    public func cameraAudit() async -> [CameraAuditEntry] {
        await registry.cameraAuditLog()
    }
}

/// Waits for graceful shutdown, then closes every room.
struct RoomShutdown: Service {
    let registry: RoomRegistry
    let observer: ServerObserver

    func run() async throws {
        try? await gracefulShutdown()
        await registry.shutdown()
        // Live event streams end, so their HTTP responses complete before the server stops.
        observer.events.finishAll()
    }
}
