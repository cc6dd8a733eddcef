public import Hummingbird
public import Logging
import NIOCore
import NIOPosix
public import RelaisTransport

/// Everything `relais-server` runs, with embedded defaults that need no configuration.
public struct ServerConfiguration: Sendable {
    /// HTTP and WebSocket signaling (and, later, the admin API). Loopback by default.
    public var httpHost = "127.0.0.1"
    public var httpPort = 8088
    public var media = MediaConfiguration()
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

        let router = Router()
        SignalingRoutes(media: media, logger: logger).register(on: router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "relais"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                await onReady(RunningServer(httpPort: port, media: media))
            },
            logger: logger
        )
        do {
            try await app.runService()
        } catch {
            await media.shutdown()
            throw error
        }
        await media.shutdown()
    }
}

/// What a started server exposes to its embedder (tests, the executable's startup banner).
public struct RunningServer: Sendable {
    public let httpPort: Int
    public let media: MediaServer
}
