import ArgumentParser
import Foundation
import Logging
import RelaisServer
import RelaisTransport

@main
struct RelaisServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais-server",
        abstract: "Relais teleconsultation media relay: WebRTC SFU (ICE-lite, DTLS-SRTP) and signaling.",
        discussion: """
            With no options it serves on loopback only: HTTP signaling on 127.0.0.1:8088 and media \
            on UDP 127.0.0.1:40000, with a freshly generated DTLS certificate. Every option can also be \
            set with the environment variable named in its help.
            """
    )

    @Option(help: "HTTP signaling address (env RELAIS_HTTP_HOST).")
    var httpHost: String = env("RELAIS_HTTP_HOST") ?? "127.0.0.1"

    @Option(help: "HTTP signaling port (env RELAIS_HTTP_PORT).")
    var httpPort: Int = env("RELAIS_HTTP_PORT").flatMap(Int.init) ?? 8088

    @Option(help: "Media UDP address, also advertised in ICE candidates (env RELAIS_MEDIA_HOST).")
    var mediaHost: String = env("RELAIS_MEDIA_HOST") ?? "127.0.0.1"

    @Option(help: "First media UDP port; loop i uses port+i (env RELAIS_MEDIA_PORT).")
    var mediaPort: Int = env("RELAIS_MEDIA_PORT").flatMap(Int.init) ?? 40_000

    @Option(help: "Media event loops, one UDP socket each; 0 = one per core (env RELAIS_MEDIA_LOOPS).")
    var mediaLoops: Int = env("RELAIS_MEDIA_LOOPS").flatMap(Int.init) ?? 1

    @Option(help: "ICE consent timeout in seconds (RFC 7675) (env RELAIS_CONSENT_TIMEOUT).")
    var consentTimeout: Int = env("RELAIS_CONSENT_TIMEOUT").flatMap(Int.init) ?? 30

    @Option(help: "SRTP profiles offered in DTLS, comma-separated, preferred first: gcm, cm (env RELAIS_SRTP_PROFILES).")
    var srtpProfiles: String = env("RELAIS_SRTP_PROFILES") ?? "gcm,cm"

    @Option(help: "PEM file with the DTLS certificate; generated at start when empty (env RELAIS_DTLS_CERT).")
    var dtlsCert: String = env("RELAIS_DTLS_CERT") ?? ""

    @Option(help: "PEM file with the DTLS private key (env RELAIS_DTLS_KEY).")
    var dtlsKey: String = env("RELAIS_DTLS_KEY") ?? ""

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env RELAIS_LOG_LEVEL).")
    var logLevel: String = env("RELAIS_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard dtlsCert.isEmpty == dtlsKey.isEmpty else {
            throw ValidationError("--dtls-cert and --dtls-key go together")
        }
        _ = try parseProfiles()
        guard consentTimeout > 0 else { throw ValidationError("--consent-timeout must be positive") }
    }

    func parseProfiles() throws -> [SRTPProfile] {
        try srtpProfiles.split(separator: ",").map { name in
            switch name.trimmingCharacters(in: .whitespaces).lowercased() {
            case "gcm", "aead_aes_128_gcm": return .aeadAES128GCM
            case "cm", "aes128_cm_sha1_80": return .aes128CMSHA1_80
            default: throw ValidationError("unknown SRTP profile '\(name)' (use gcm or cm)")
            }
        }
    }

    func run() async throws {
        var logger = Logger(label: "relais")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        var configuration = ServerConfiguration()
        configuration.httpHost = httpHost
        configuration.httpPort = httpPort
        configuration.media.host = mediaHost
        configuration.media.port = mediaPort
        configuration.media.loops = mediaLoops
        configuration.media.transport.consentTimeout = .seconds(consentTimeout)
        configuration.media.transport.srtpProfiles = try parseProfiles()
        if !dtlsCert.isEmpty {
            configuration.dtlsCertificatePEM = (
                try String(contentsOfFile: dtlsCert, encoding: .utf8), try String(contentsOfFile: dtlsKey, encoding: .utf8)
            )
        }
        let app = RelaisServerApp(configuration: configuration, logger: logger)
        try await app.run { [logger, configuration] running in
            logger.notice("relais-server ready", metadata: [
                "http": "http://\(configuration.httpHost):\(running.httpPort)",
                "media": "\(running.media.localAddresses.map(\.description).joined(separator: ","))",
            ])
        }
    }
}

private func env(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name]
}
