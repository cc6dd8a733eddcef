import ArgumentParser
import Foundation
import Logging
import RelaisServer
import RelaisHistory
import RelaisAuth
import RelaisSignaling
import RelaisTransport

@main
struct RelaisServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais-server",
        abstract: "Relais teleconsultation media relay: WebRTC SFU (ICE-lite, DTLS-SRTP) and WebSocket signaling.",
        discussion: """
            With no options it serves on loopback only: signaling on ws://127.0.0.1:8088/v1/signaling, \
            media on UDP 127.0.0.1:40000, a freshly generated DTLS certificate and a development token \
            secret. Each option is taken from, in order: the command line, the environment variable \
            named in its help, the JSON config file (--config, keys are the option names), the default.
            """,
        subcommands: [Serve.self, Token.self],
        defaultSubcommand: Serve.self
    )
}

/// Options shared by `serve` and `token`.
struct CommonOptions: ParsableArguments {
    @Option(help: "JSON config file: an object whose keys are option names, e.g. {\"http-port\": 9000} (env RELAIS_CONFIG).")
    var config: String?

    @Option(help: "HS256 token secret, at least 32 bytes (env RELAIS_TOKEN_SECRET). Without one, a development secret is generated once and kept in ~/.relais/dev-token-secret.")
    var tokenSecret: String?

    func settings() throws -> Settings {
        try Settings(path: config ?? env("RELAIS_CONFIG"))
    }

    /// The secret, and whether it is the development one.
    func resolveSecret(_ settings: Settings) throws -> (secret: String, development: Bool) {
        if let secret = tokenSecret ?? env("RELAIS_TOKEN_SECRET") ?? settings.string("token-secret") {
            guard secret.utf8.count >= 32 else { throw ValidationError("the token secret must be at least 32 bytes") }
            return (secret, false)
        }
        let directory = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".relais")
        let file = directory.appendingPathComponent("dev-token-secret")
        if let existing = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), existing.utf8.count >= 32 {
            return (existing, true)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let secret = "dev-" + bytes.map { String(format: "%02x", $0) }.joined()
        FileManager.default.createFile(atPath: file.path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600])
        return (secret, true)
    }
}

/// Flat JSON settings file.
struct Settings {
    private var values: [String: Any] = [:]

    init(path: String?) throws {
        guard let path else { return }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("\(path): the config file must hold one JSON object")
        }
        values = object
    }

    func string(_ key: String) -> String? { values[key].map { "\($0)" } }
    func int(_ key: String) -> Int? { values[key] as? Int ?? string(key).flatMap(Int.init) }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the relay (the default).")

    @OptionGroup var common: CommonOptions

    @Option(help: "HTTP/WebSocket signaling address (env RELAIS_HTTP_HOST; default 127.0.0.1).")
    var httpHost: String?
    @Option(help: "HTTP/WebSocket signaling port (env RELAIS_HTTP_PORT; default 8088).")
    var httpPort: Int?
    @Option(help: "Media UDP address, also advertised in ICE candidates (env RELAIS_MEDIA_HOST; default 127.0.0.1).")
    var mediaHost: String?
    @Option(help: "First media UDP port; loop i uses port+i (env RELAIS_MEDIA_PORT; default 40000).")
    var mediaPort: Int?
    @Option(help: "Media event loops, one UDP socket each; 0 = one per core (env RELAIS_MEDIA_LOOPS; default 0).")
    var mediaLoops: Int?
    @Option(help: "Receive and send buffer bytes asked for each media socket, forced past net.core.rmem_max/wmem_max when the process has CAP_NET_ADMIN (env RELAIS_MEDIA_SOCKET_BUFFER; default 4194304).")
    var mediaSocketBuffer: Int?
    @Option(help: "ICE consent timeout in seconds, RFC 7675 (env RELAIS_CONSENT_TIMEOUT; default 30).")
    var consentTimeout: Int?
    @Option(help: "SRTP profiles offered in DTLS, comma-separated, preferred first: gcm (AEAD_AES_128_GCM), cm (AES_CM_128_HMAC_SHA1_80), cm32 (AES_CM_128_HMAC_SHA1_32) (env RELAIS_SRTP_PROFILES; default gcm,cm).")
    var srtpProfiles: String?
    @Option(help: "PEM file with the DTLS certificate; generated at start when absent (env RELAIS_DTLS_CERT).")
    var dtlsCert: String?
    @Option(help: "PEM file with the DTLS private key (env RELAIS_DTLS_KEY).")
    var dtlsKey: String?
    @Option(help: "Largest signaling message in bytes (env RELAIS_MAX_MESSAGE_BYTES; default 65536).")
    var maxMessageBytes: Int?
    @Option(help: "Signaling messages per second per connection, burst twice that (env RELAIS_MESSAGES_PER_SECOND; default 20).")
    var messagesPerSecond: Int?
    @Option(help: "Participants per room (env RELAIS_MAX_PARTICIPANTS; default 16).")
    var maxParticipants: Int?
    @Option(help: "Seconds a dropped participant keeps its place for `resume` (env RELAIS_RESUME_WINDOW; default 15).")
    var resumeWindow: Int?
    @Option(help: "Seconds of signaling silence after which a connection counts as dropped (env RELAIS_IDLE_TIMEOUT; default 30).")
    var idleTimeout: Int?
    @Option(help: "Camera floor policy: first-expert (the first expert to ask controls a free camera) or cart-grants (env RELAIS_CAMERA_FLOOR; default first-expert).")
    var cameraFloor: String?
    @Option(help: "Milliseconds a continuous camera move lasts without a refresh before the relay stops the camera (env RELAIS_CAMERA_DEADMAN_MS; default 500).")
    var cameraDeadmanMs: Int?
    @Option(help: "Seconds a signaling WebSocket may stay open without `join` or `resume` before it is closed with 1008 join_timeout (env RELAIS_JOIN_DEADLINE; default 10).")
    var joinDeadline: Int?
    @Option(help: "Concurrent signaling WebSockets from one source address; a hospital's carts and workstations share its NAT address (env RELAIS_MAX_CONNECTIONS_PER_ADDRESS; default 256).")
    var maxConnectionsPerAddress: Int?
    @Option(help: "Concurrent signaling WebSockets in total (env RELAIS_MAX_CONNECTIONS; default 10000).")
    var maxConnections: Int?
    @Option(help: "Bytes of server messages queued for one signaling connection before it is closed as a slow reader with 1008 slow_reader (env RELAIS_MAX_OUTBOX_BYTES; default 262144).")
    var maxOutboxBytes: Int?
    @Option(help: "Concurrent echo tests (POST /v1/echo); beyond, 503 echo_busy (env RELAIS_MAX_ECHO_SESSIONS; default 8).")
    var maxEchoSessions: Int?
    @Option(help: "Media sections (m-lines) in one publish offer; beyond, invalid_sdp (env RELAIS_MAX_PUBLISH_SECTIONS; default 16).")
    var maxPublishSections: Int?
    @Option(help: "Tracks one participant publishes; beyond, invalid_sdp (env RELAIS_MAX_PUBLISH_TRACKS; default 8).")
    var maxPublishTracks: Int?
    @Option(help: "Distinct SSRCs one participant announces in its publish offer; beyond, invalid_sdp (env RELAIS_MAX_PUBLISH_SSRCS; default 16).")
    var maxPublishSsrcs: Int?
    @Option(help: "Most kbit/s a publisher may send, announced to publishers that negotiate goog-remb in a REMB once a second; 0 = no ceiling (env RELAIS_MAX_PUBLISH_KBPS; default 0).")
    var maxPublishKbps: Int?
    @Option(help: "SQLite file for the consultation history and audit trail, or `none` (env RELAIS_HISTORY_PATH; default ~/.relais/history.sqlite).")
    var historyPath: String?
    @Option(help: "Days of history kept; older rows are pruned hourly (env RELAIS_HISTORY_RETENTION_DAYS; default 90).")
    var historyRetentionDays: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env RELAIS_LOG_LEVEL; default info).")
    var logLevel: String?

    func run() async throws {
        let settings = try common.settings()
        func pick(_ flag: String?, _ key: String, _ variable: String, _ fallback: String) -> String {
            flag ?? env(variable) ?? settings.string(key) ?? fallback
        }
        func pick(_ flag: Int?, _ key: String, _ variable: String, _ fallback: Int) throws -> Int {
            if let flag { return flag }
            if let text = env(variable) {
                guard let value = Int(text) else { throw ValidationError("\(variable) must be an integer") }
                return value
            }
            return settings.int(key) ?? fallback
        }

        var logger = Logger(label: "relais")
        logger.logLevel = Logger.Level(rawValue: pick(logLevel, "log-level", "RELAIS_LOG_LEVEL", "info")) ?? .info

        var configuration = ServerConfiguration()
        configuration.httpHost = pick(httpHost, "http-host", "RELAIS_HTTP_HOST", "127.0.0.1")
        configuration.httpPort = try pick(httpPort, "http-port", "RELAIS_HTTP_PORT", 8088)
        configuration.media.host = pick(mediaHost, "media-host", "RELAIS_MEDIA_HOST", "127.0.0.1")
        configuration.media.port = try pick(mediaPort, "media-port", "RELAIS_MEDIA_PORT", 40_000)
        configuration.media.loops = try pick(mediaLoops, "media-loops", "RELAIS_MEDIA_LOOPS", 0)
        configuration.media.socketBufferBytes = try pick(mediaSocketBuffer, "media-socket-buffer", "RELAIS_MEDIA_SOCKET_BUFFER", 4 << 20)
        let consent = try pick(consentTimeout, "consent-timeout", "RELAIS_CONSENT_TIMEOUT", 30)
        guard consent > 0 else { throw ValidationError("consent timeout must be positive") }
        configuration.media.transport.consentTimeout = .seconds(consent)
        configuration.media.transport.srtpProfiles = try parseProfiles(pick(srtpProfiles, "srtp-profiles", "RELAIS_SRTP_PROFILES", "gcm,cm"))
        let cert = dtlsCert ?? env("RELAIS_DTLS_CERT") ?? settings.string("dtls-cert")
        let key = dtlsKey ?? env("RELAIS_DTLS_KEY") ?? settings.string("dtls-key")
        guard (cert == nil) == (key == nil) else { throw ValidationError("the DTLS certificate and key go together") }
        if let cert, let key {
            configuration.dtlsCertificatePEM = (try String(contentsOfFile: cert, encoding: .utf8), try String(contentsOfFile: key, encoding: .utf8))
        }
        configuration.signaling.maxMessageBytes = try pick(maxMessageBytes, "max-message-bytes", "RELAIS_MAX_MESSAGE_BYTES", 65_536)
        let rate = try pick(messagesPerSecond, "messages-per-second", "RELAIS_MESSAGES_PER_SECOND", 20)
        configuration.signaling.messagesPerSecond = rate
        configuration.signaling.messageBurst = rate * 2
        configuration.signaling.maxParticipants = try pick(maxParticipants, "max-participants", "RELAIS_MAX_PARTICIPANTS", 16)
        configuration.signaling.resumeWindow = .seconds(try pick(resumeWindow, "resume-window", "RELAIS_RESUME_WINDOW", 15))
        configuration.signaling.idleTimeout = .seconds(try pick(idleTimeout, "idle-timeout", "RELAIS_IDLE_TIMEOUT", 30))
        switch pick(cameraFloor, "camera-floor", "RELAIS_CAMERA_FLOOR", "first-expert") {
        case "first-expert": configuration.signaling.cameraFloorPolicy = .firstExpert
        case "cart-grants": configuration.signaling.cameraFloorPolicy = .cartGrants
        default: throw ValidationError("camera floor policy must be first-expert or cart-grants")
        }
        let deadman = try pick(cameraDeadmanMs, "camera-deadman-ms", "RELAIS_CAMERA_DEADMAN_MS", 500)
        guard deadman > 0 else { throw ValidationError("the camera deadman must be positive") }
        configuration.signaling.cameraDeadman = .milliseconds(deadman)
        let joinDeadline = try pick(joinDeadline, "join-deadline", "RELAIS_JOIN_DEADLINE", 10)
        guard joinDeadline > 0 else { throw ValidationError("the join deadline must be positive") }
        configuration.signaling.joinDeadline = .seconds(joinDeadline)
        configuration.signaling.maxConnectionsPerAddress = try pick(maxConnectionsPerAddress, "max-connections-per-address", "RELAIS_MAX_CONNECTIONS_PER_ADDRESS", 256)
        configuration.signaling.maxConnections = try pick(maxConnections, "max-connections", "RELAIS_MAX_CONNECTIONS", 10_000)
        guard configuration.signaling.maxConnectionsPerAddress > 0, configuration.signaling.maxConnections > 0 else {
            throw ValidationError("the connection caps must be positive")
        }
        configuration.signaling.maxOutboxBytes = try pick(maxOutboxBytes, "max-outbox-bytes", "RELAIS_MAX_OUTBOX_BYTES", 262_144)
        guard configuration.signaling.maxOutboxBytes >= 65_536 else {
            throw ValidationError("the outbox cap must be at least 65536 bytes (one largest message)")
        }
        configuration.signaling.maxEchoSessions = try pick(maxEchoSessions, "max-echo-sessions", "RELAIS_MAX_ECHO_SESSIONS", 8)
        guard configuration.signaling.maxEchoSessions >= 0 else { throw ValidationError("the echo cap cannot be negative") }
        configuration.signaling.negotiationLimits.maxMediaSections = try pick(maxPublishSections, "max-publish-sections", "RELAIS_MAX_PUBLISH_SECTIONS", 16)
        configuration.signaling.negotiationLimits.maxTracks = try pick(maxPublishTracks, "max-publish-tracks", "RELAIS_MAX_PUBLISH_TRACKS", 8)
        configuration.signaling.negotiationLimits.maxSSRCs = try pick(maxPublishSsrcs, "max-publish-ssrcs", "RELAIS_MAX_PUBLISH_SSRCS", 16)
        guard configuration.signaling.negotiationLimits.maxMediaSections > 0, configuration.signaling.negotiationLimits.maxTracks > 0,
              configuration.signaling.negotiationLimits.maxSSRCs > 0 else {
            throw ValidationError("the publish caps must be positive")
        }
        let maxPublishKbps = try pick(maxPublishKbps, "max-publish-kbps", "RELAIS_MAX_PUBLISH_KBPS", 0)
        guard (0...1_000_000).contains(maxPublishKbps) else { throw ValidationError("the publish ceiling is 0 (none) to 1000000 kbit/s") }
        configuration.signaling.maxPublishBitrate = maxPublishKbps == 0 ? nil : UInt64(maxPublishKbps) * 1000
        let historyPath = pick(self.historyPath, "history-path", "RELAIS_HISTORY_PATH",
                               FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".relais/history.sqlite").path)
        if historyPath != "none" {
            let days = try pick(historyRetentionDays, "history-retention-days", "RELAIS_HISTORY_RETENTION_DAYS", 90)
            guard days > 0 else { throw ValidationError("the history retention must be at least one day") }
            configuration.history = HistoryConfiguration(path: historyPath, retention: .seconds(days * 86_400))
        }
        let (secret, development) = try common.resolveSecret(settings)
        configuration.signaling.tokenSecret = secret
        if development {
            logger.warning("using the DEVELOPMENT token secret from ~/.relais/dev-token-secret; set --token-secret for real deployments")
            FileHandle.standardOutput.write(Data("relais-server: development token secret (for development only): \(secret)\n".utf8))
        }

        let app = RelaisServerApp(configuration: configuration, logger: logger)
        try await app.run { [logger, configuration] running in
            logger.notice("relais-server ready", metadata: [
                "signaling": "ws://\(configuration.httpHost):\(running.httpPort)/v1/signaling",
                "admin": "http://\(configuration.httpHost):\(running.httpPort)/v1/admin (operator token: relais-server token --operator --name NAME)",
                "media": "\(running.media.localAddresses.map(\.description).joined(separator: ","))",
            ])
        }
    }

    func parseProfiles(_ text: String) throws -> [SRTPProfile] {
        try text.split(separator: ",").map { name in
            switch name.trimmingCharacters(in: .whitespaces).lowercased() {
            case "gcm", "aead_aes_128_gcm": return .aeadAES128GCM
            case "cm", "aes128_cm_sha1_80": return .aes128CMSHA1_80
            case "cm32", "aes128_cm_sha1_32": return .aes128CMSHA1_32
            default: throw ValidationError("unknown SRTP profile '\(name)' (use gcm, cm or cm32)")
            }
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint an access token for development (production tokens come from the platform's identity service).")

    @OptionGroup var common: CommonOptions

    @Flag(help: "Mint an operator token (admin API, /metrics, relais-monitor) instead of a participant's.")
    var `operator` = false
    @Option(help: "Room the token admits to (participant tokens).")
    var room: String?
    @Option(help: "Role: cart, expert or observer (participant tokens).")
    var role: String?
    @Option(help: "Display name shown to the other participants, or the operator's name.")
    var name: String
    @Option(help: "Subject (stable user id); defaults to the name.")
    var subject: String?
    @Option(help: "Lifetime in seconds.")
    var ttl: Int = 3600

    func validate() throws {
        if `operator` {
            guard room == nil, role == nil else { throw ValidationError("an operator token has no --room or --role") }
        } else {
            guard room != nil, role.flatMap(Role.init(rawValue:)) != nil else {
                throw ValidationError("a participant token needs --room and --role cart, expert or observer (or give --operator)")
            }
        }
    }

    func run() async throws {
        let (secret, _) = try common.resolveSecret(try common.settings())
        let authority = try await TokenAuthority(secret: secret)
        let expires = Date().addingTimeInterval(TimeInterval(ttl))
        if `operator` {
            print(try await authority.mintOperator(OperatorClaims(subject: subject ?? name, displayName: name, expires: expires)))
            return
        }
        guard let room, let role = role.flatMap(Role.init(rawValue:)) else { throw ValidationError("unreachable") }
        let claims = AccessClaims(subject: subject ?? name, displayName: name, role: role, room: room, expires: expires)
        print(try await authority.mint(claims))
    }
}

private func env(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name]
}
