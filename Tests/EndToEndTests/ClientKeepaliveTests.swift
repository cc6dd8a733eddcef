import Foundation
import RelaisServer
import Testing

/// `relais-client` keeps its signaling connection alive (Signaling/PROTOCOL.md §3: `ping` at least
/// every 10 s): a participant that only receives media sends nothing else, and without the pings
/// the relay closed its socket at every idle timeout and the client resumed (a reconnection every
/// 30 s per participant in the soak).
@Suite struct ClientKeepaliveTests {
    struct Final: Decodable {
        struct Report: Decodable { var resumes: Int; var closedReason: String? }
        var type: String
        var report: Report
    }

    @Test func silentExpertIsNotClosedForIdleness() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: HeadlessClientTests.clientBinary), "build relais-client first (swift build)")
        // Two idle timeouts within the run; the client's keepalive (5 s) is well inside each.
        try await withFixtures { fixtures in
            let server = try await fixtures.server {
                $0.signaling.tokenSecret = HeadlessClientTests.secret
                $0.signaling.idleTimeout = .seconds(10)
            }
            let result = try await HeadlessClientTests.client([
                "--url", "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling", "--room", "keepalive",
                "--token-secret", HeadlessClientTests.secret, "--role", "expert", "--no-publish", "--duration", "23", "--json",
            ])
            let line = result.stdout.split(separator: "\n").last { $0.contains(#""type":"final""#) }
            let final = try #require(line.flatMap { try? JSONDecoder().decode(Final.self, from: Data($0.utf8)) },
                                     "no final report (exit \(result.status)): \(result.stderr.suffix(1500))")
            #expect(final.report.resumes == 0, "the relay closed the silent client's socket \(final.report.resumes) times")
        }
    }
}
