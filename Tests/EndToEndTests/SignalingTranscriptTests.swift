import Foundation
import RelaisServer
import Testing

/// The example transcripts of Signaling/ are part of the contract: each one is replayed against
/// the real server by Signaling/replay.py, which also validates every server message against the
/// schemas. A transcript that drifts from the server (or the reverse) fails here.
@Suite(.serialized) struct SignalingTranscriptTests {
    static let secret = "transcript-test-secret-0123456789-abcdef"

    static var signalingDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Signaling")
    }

    static var transcripts: [String] {
        let directory = signalingDirectory.appendingPathComponent("transcripts")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") }.sorted()
    }

    @Test func everyTranscriptIsReplayed() {
        // Guards against the parameterised test silently running zero cases.
        #expect(Self.transcripts.count >= 6)
    }

    @Test(arguments: transcripts)
    func transcriptReplaysAgainstTheServer(_ name: String) async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.signaling.tokenSecret = Self.secret }
            let result = try await runScript(
                Self.signalingDirectory.appendingPathComponent("replay.py").path,
                arguments: [
                    "--url", "ws://127.0.0.1:\(server.running.httpPort)/v1/signaling", "--secret", Self.secret,
                    Self.signalingDirectory.appendingPathComponent("transcripts").appendingPathComponent(name).path,
                ], timeout: .seconds(60))
            #expect(result.status == 0, "\(result.stdout)\(result.stderr.suffix(2000))")
            #expect(result.stdout.contains("PASS \(name)"))
        }
    }

    @Test func schemasAndTranscriptsAreSelfConsistent() async throws {
        let result = try await runScript(
            Self.signalingDirectory.appendingPathComponent("validate.py").path, arguments: ["--self-test"], timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr.suffix(2000))")
    }
}
