import ArgumentParser
import Foundation
import Logging
import NIOPosix
import RelaisClient
import RelaisMedia
import RelaisSignaling

@main
struct RelaisClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais-client",
        abstract: "Relais headless WebRTC client: expert, cart simulator, site probe and load generator.",
        subcommands: [Join.self],
        defaultSubcommand: Join.self)
}

struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join a room, publish and/or receive, report statistics, check thresholds (the default).",
        discussion: """
            Exit status: 0 when the run completed and every --expect-* threshold held, 1 when a \
            threshold failed, 2 when the server refused the participant (its error code is printed) \
            or the session could not be set up.
            """)

    @Option(help: "Signaling URL.") var url = "ws://127.0.0.1:8088/v1/signaling"
    @Option(help: "Room to join.") var room: String
    @Option(help: "Access token (JWT). Without one, --token-secret mints one for --role and --name.") var token: String?
    @Option(help: "HS256 secret to mint a development token with (env RELAIS_TOKEN_SECRET).") var tokenSecret: String?
    @Option(help: "Role: cart (publishes), expert (publishes and receives), observer (receives).") var role = "expert"
    @Option(help: "Display name (when minting a token).") var name = "relais-client"
    @Option(help: "Seconds to stay in the room.") var duration: Double = 10
    @Option(help: "Local address for media sockets.") var mediaHost = "127.0.0.1"

    @Option(help: "Video width of the test pattern.") var width = 1280
    @Option(help: "Video height of the test pattern.") var height = 720
    @Option(help: "Video frames per second.") var fps = 30
    @Option(help: "Video bitrate, kbit/s.") var bitrate = 2500
    @Option(help: "Replay this IVF (VP8) file instead of encoding the test pattern.") var ivf: String?
    @Option(help: "Replay this Ogg Opus file instead of encoding a tone.") var ogg: String?
    @Flag(help: "Publish no video.") var noVideo = false
    @Flag(help: "Publish no audio.") var noAudio = false
    @Flag(help: "Publish nothing (receive only).") var noPublish = false
    @Flag(help: "Do not decode received media (count and measure only; for load).") var noDecode = false

    @Flag(help: "Print periodic and final statistics as JSON lines.") var json = false
    @Option(help: "Fail unless every received video track decoded at least this many frames per second.") var expectMinFps: Double?
    @Option(help: "Fail when a received track lost more than this fraction of packets (0.01 = 1%).") var expectMaxLoss: Double?
    @Option(help: "Fail when a video track's end-to-end latency p50 exceeds this (ms, from the test pattern).") var expectMaxLatencyMs: Double?
    @Option(help: "Fail when the first video frame took longer than this after subscribing (ms).") var expectMaxFirstFrameMs: Double?
    @Flag(help: "Fail when a received video track froze (a gap over three frame intervals).") var expectNoFreeze = false
    @Option(help: "Fail unless at least this many video tracks were received.") var expectTracks: Int?

    func run() async throws {
        var logger = Logger(label: "relais-client")
        logger.logLevel = .warning
        guard let role = Role(rawValue: role) else { throw ValidationError("role must be cart, expert or observer") }
        let token: String
        if let given = self.token {
            token = given
        } else if let secret = tokenSecret ?? ProcessInfo.processInfo.environment["RELAIS_TOKEN_SECRET"] {
            let authority = try await TokenAuthority(secret: secret)
            token = try await authority.mint(AccessClaims(
                subject: name, displayName: name, role: role, room: room, expires: Date().addingTimeInterval(max(duration * 2, 600))))
        } else {
            throw ValidationError("give --token, or --token-secret to mint one")
        }

        var options = ClientOptions(url: url, room: room, token: token)
        options.mediaHost = mediaHost
        options.decode = !noDecode
        // Every role receives: a cart shows the expert to the patient; `--no-decode` only counts.
        options.subscribe = true
        if role != .observer && !noPublish {
            var video: PublishSource.Video? = noVideo ? nil : .pattern(width: width, height: height, fps: fps, bitrateKbps: bitrate)
            if let ivf, !noVideo {
                var reader = try IVFReader(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: ivf))))
                video = .frames(try reader.readAll().map(\.data), fps: fps)
            }
            var audio: PublishSource.Audio? = noAudio ? nil : .tone
            if let ogg, !noAudio {
                var reader = try OggOpusReader(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: ogg))))
                audio = .packets(try reader.readAll().map(\.data))
            }
            options.publish = PublishSource(video: video, audio: audio)
        }

        let session = try ClientSession(options: options, eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: logger)
        let printJSON = json
        let report: ClientReport
        do {
            report = try await session.run(duration: .milliseconds(Int64(duration * 1000))) { progress in
                if printJSON { Self.emit(["type": "progress"], progress) }
            }
        } catch let refusal as ServerRefusal {
            FileHandle.standardError.write(Data("relais-client: \(refusal)\n".utf8))
            throw ExitCode(2)
        } catch {
            FileHandle.standardError.write(Data("relais-client: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let failures = checkThresholds(report)
        if json {
            Self.emit(["type": "final"], report, failures: failures)
        } else {
            print(Self.summary(report))
            for failure in failures { print("THRESHOLD FAILED: \(failure)") }
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }

    func checkThresholds(_ report: ClientReport) -> [String] {
        var failures: [String] = []
        let videos = report.tracks.filter { $0.kind == "video" }
        if let expected = expectTracks, videos.count < expected {
            failures.append("received \(videos.count) video tracks, expected at least \(expected)")
        }
        for track in videos {
            let name = track.trackId ?? "video"
            let stream = track.stream
            if let minimum = expectMinFps {
                let fps = track.meanFramesPerSecond ?? 0
                if fps < minimum { failures.append("\(name): \(String(format: "%.1f", fps)) fps < \(minimum) (since its first frame)") }
            }
            if let maximum = expectMaxLatencyMs {
                if let p50 = stream.latencyP50Milliseconds {
                    if p50 > maximum { failures.append("\(name): latency p50 \(String(format: "%.1f", p50)) ms > \(maximum)") }
                } else {
                    failures.append("\(name): no latency measured (test pattern not read)")
                }
            }
            if let maximum = expectMaxFirstFrameMs {
                if let first = stream.timeToFirstFrameMilliseconds {
                    if first > maximum { failures.append("\(name): first frame after \(Int(first)) ms > \(maximum)") }
                } else {
                    failures.append("\(name): no frame decoded")
                }
            }
            if expectNoFreeze, stream.freezeCount > 0 {
                failures.append("\(name): \(stream.freezeCount) freezes, \(Int(stream.totalFreezeDurationMilliseconds)) ms")
            }
        }
        if let maximum = expectMaxLoss {
            for track in report.tracks where track.stream.lossFraction > maximum {
                failures.append("\(track.trackId ?? track.kind): loss \(String(format: "%.3f", track.stream.lossFraction)) > \(maximum)")
            }
        }
        return failures
    }

    static func emit(_ header: [String: String], _ report: ClientReport, failures: [String]? = nil) {
        struct Line: Encodable {
            var type: String
            var report: ClientReport
            var thresholdFailures: [String]?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(Line(type: header["type"] ?? "report", report: report, thresholdFailures: failures)) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    static func summary(_ report: ClientReport) -> String {
        var lines = ["participant \(report.participantId ?? "?") (\(report.role ?? "?")), joined in \(Int(report.joinMilliseconds ?? 0)) ms, \(String(format: "%.1f", report.durationSeconds)) s"]
        if let publish = report.publish {
            lines.append("  sent: \(publish.videoFramesSent) video frames (\(publish.videoKeyframesSent) key), \(publish.audioPacketsSent) audio packets, \(publish.retransmissions) retransmissions, encode \(String(format: "%.1f", publish.meanEncodeMilliseconds)) ms/frame")
        }
        for track in report.tracks {
            let s = track.stream
            lines.append("  \(track.kind) \(track.trackId ?? "") \(track.codec): \(s.framesDecoded) frames, \(String(format: "%.1f", s.framesPerSecond)) fps, loss \(String(format: "%.2f", s.lossFraction * 100))%, jitter \(String(format: "%.1f", s.jitterMilliseconds)) ms, freezes \(s.freezeCount), latency p50 \(s.latencyP50Milliseconds.map { String(format: "%.1f", $0) } ?? "-") ms, first frame \(s.timeToFirstFrameMilliseconds.map { "\(Int($0)) ms" } ?? "-")")
        }
        for error in report.errors { lines.append("  server error: \(error)") }
        return lines.joined(separator: "\n")
    }
}
