public import Hummingbird
import HummingbirdWebSocket
public import Logging
public import RelaisAuth
public import RelaisSignaling
import ServiceLifecycle
import NIOCore
import NIOPosix
public import RelaisTransport

/// Everything `relais-server` runs, with embedded defaults that need no configuration.
public struct ServerConfiguration: Sendable {
    /// HTTP and WebSocket signaling (and, later, the admin API). Loopback by default.
    public var httpHost = "127.0.0.1"
    public var httpPort = 8088
    public var media = MediaConfiguration()
    public var signaling = SignalingConfiguration()
    /// PEM certificate and key for DTLS; a fresh ECDSA P-256 certificate is generated when nil.
    public var dtlsCertificatePEM: (certificate: String, privateKey: String)?

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

        let media = try await MediaServer.start(
            configuration: configuration.media, certificate: certificate,
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)

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
        let registry = RoomRegistry(media: media, configuration: configuration.signaling, logger: logger)
        let signaling = SignalingContext(registry: registry, tokens: tokens, configuration: configuration.signaling, logger: logger)

        let router = Router()
        SignalingRoutes(media: media, logger: logger).register(on: router)
        MediaStatisticsRoute(media: media).register(on: router)
        let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
        webSocketRouter.ws("/v1/signaling") { inbound, outbound, _ in
            await SignalingConnection(context: signaling).run(inbound: inbound, outbound: outbound)
        }
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(ws: .init(maxFrameSize: SignalingConnection.transportFrameLimit, autoPing: .enabled(timePeriod: .seconds(15))))),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "relais"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                await onReady(RunningServer(httpPort: port, media: media, tokens: tokens, registry: registry))
            },
            logger: logger
        )
        // Rooms shut down before the HTTP server (services stop in reverse order): every
        // participant is told `left: shutdown` while its WebSocket is still open.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: RoomShutdown(registry: registry))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await registry.shutdown()
            await media.shutdown()
            throw error
        }
        await registry.shutdown()
        await media.shutdown()
    }
}

/// What a started server exposes to its embedder (tests, the executable's startup banner).
public struct RunningServer: Sendable {
    public let httpPort: Int
    public let media: MediaServer
    /// Signs tokens with the running server's secret (tests, the startup banner).
    public let tokens: TokenAuthority
    let registry: RoomRegistry

    /// Camera commands accepted or refused, newest last (the audit trail).
    public func cameraAudit() async -> [CameraAuditEntry] {
        await registry.cameraAuditLog()
    }
}

/// Waits for graceful shutdown, then closes every room.
struct RoomShutdown: Service {
    let registry: RoomRegistry

    func run() async throws {
        try? await gracefulShutdown()
        await registry.shutdown()
    }
}
