import ArgumentParser
import Foundation
import Logging
import NIOPosix
import RelaisClient
import RelaisMedia
import RelaisAuth
import RelaisSignaling

@main
struct RelaisClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais-client",
        abstract: "Relais headless WebRTC client: expert, cart simulator, site probe and load generator.",
        subcommands: [Join.self, Load.self],
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
    @Flag(help: "Publish the pattern as three simulcast layers (1/4, 1/2, full size; VP8 with three temporal layers each), as a browser does.") var simulcast = false
    @Flag(help: "Add noise to the test pattern, so the encoder fills its bitrate as a real camera does (congestion tests).") var noisyPattern = false
    @Option(help: "Replay this IVF (VP8) file instead of encoding the test pattern.") var ivf: String?
    @Option(help: "Replay this Ogg Opus file instead of encoding a tone.") var ogg: String?
    @Flag(help: "Publish no video.") var noVideo = false
    @Flag(help: "Publish no audio.") var noAudio = false
    @Flag(help: "Publish nothing (receive only).") var noPublish = false
    @Flag(help: "Do not decode received media (count and measure only; for load).") var noDecode = false

    @Option(help: "Cart: its camera: simulated, none, or visca://HOST[:PORT] (a real PTZ camera, VISCA over IP, default port 52381).") var camera = "simulated"
    @Option(help: "Expert: run this PTZ script (JSON steps; see PTZScript) against the cart's camera and time each acknowledgement.") var ptzScript: String?
    @Option(help: "Fail when a camera command's acknowledgement p99 exceeds this (ms).") var expectMaxAckMs: Double?

    @Flag(help: "Print periodic and final statistics as JSON lines.") var json = false
    @Option(help: "Fail unless every received video track decoded at least this many frames per second.") var expectMinFps: Double?
    @Option(help: "Fail when a received track lost more than this fraction of packets (0.01 = 1%).") var expectMaxLoss: Double?
    @Option(help: "Fail when a video track's end-to-end latency p50 exceeds this (ms, from the test pattern).") var expectMaxLatencyMs: Double?
    @Option(help: "Fail when the first video frame took longer than this after subscribing (ms).") var expectMaxFirstFrameMs: Double?
    @Flag(help: "Fail when a received video track froze (a gap over three frame intervals).") var expectNoFreeze = false
    @Option(help: "Fail when a received video track's longest gap between decoded frames exceeds this (ms).") var expectMaxFreezeMs: Double?
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
        if let ptzScript { options.ptzScript = try PTZScript(contentsOf: URL(fileURLWithPath: ptzScript)) }
        if role == .cart {
            switch camera {
            case "none":
                break
            case "simulated":
                options.cameras = [SimulatedCamera(now: ClientConnection.now())]
            case let url where url.hasPrefix("visca://"):
                let target = url.dropFirst("visca://".count).split(separator: ":")
                guard let host = target.first else { throw ValidationError("visca://HOST[:PORT]") }
                let port = target.count > 1 ? Int(target[1]) ?? 52381 : 52381
                options.cameras = [try await VISCACamera.connect(description: VISCACamera.description(), configuration: .init(host: String(host), port: port))]
            default:
                throw ValidationError("--camera must be simulated, none or visca://HOST[:PORT]")
            }
        }
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
            options.publish = PublishSource(video: video, audio: audio, simulcast: simulcast && ivf == nil, noise: noisyPattern)
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
            if let maximum = expectMaxFreezeMs, stream.longestFrameGapMilliseconds > maximum {
                failures.append("\(name): a \(Int(stream.longestFrameGapMilliseconds)) ms gap between frames > \(Int(maximum)) ms")
            }
            if expectNoFreeze, stream.freezeCount > 0 {
                failures.append("\(name): \(stream.freezeCount) freezes, \(Int(stream.totalFreezeDurationMilliseconds)) ms")
            }
        }
        if let ptz = report.ptz {
            if !ptz.positionMismatches.isEmpty { failures += ptz.positionMismatches.map { "camera position: \($0)" } }
            if ptz.acknowledged < ptz.commandsSent { failures.append("camera: \(ptz.commandsSent - ptz.acknowledged) of \(ptz.commandsSent) commands unacknowledged (refused: \(ptz.refused))") }
            if ptz.failed > 0 { failures.append("camera: \(ptz.failed) commands failed at the cart") }
            if let maximum = expectMaxAckMs, (ptz.ackMillisecondsP99 ?? .infinity) > maximum {
                failures.append("camera acknowledgement p99 \(ptz.ackMillisecondsP99.map { String(format: "%.1f", $0) } ?? "-") ms > \(maximum)")
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
            if let estimate = publish.estimateKbps {
                lines.append("  congestion: estimate \(estimate) kbit/s, video target \(publish.videoTargetKbps ?? 0) kbit/s, sent \(publish.sentKbps) kbit/s, \(publish.transportFeedbackReceived) feedback, loss \(String(format: "%.1f", (publish.feedbackLoss ?? 0) * 100))%, probes \(publish.successfulProbes)/\(publish.probeClusters)")
            }
            for layer in publish.layers {
                lines.append("  layer \(layer.rid ?? "-") \(layer.width)x\(layer.height): \(layer.active ? "active" : "paused"), target \(layer.targetKbps) kbit/s, sent \(layer.sentKbps) kbit/s, \(layer.framesSent) frames")
            }
        }
        for track in report.tracks {
            let s = track.stream
            lines.append("  \(track.kind) \(track.trackId ?? "") \(track.codec): \(s.framesDecoded) frames, \(String(format: "%.1f", s.framesPerSecond)) fps, loss \(String(format: "%.2f", s.lossFraction * 100))%, jitter \(String(format: "%.1f", s.jitterMilliseconds)) ms, freezes \(s.freezeCount), latency p50 \(s.latencyP50Milliseconds.map { String(format: "%.1f", $0) } ?? "-") ms, first frame \(s.timeToFirstFrameMilliseconds.map { "\(Int($0)) ms" } ?? "-")")
        }
        if let camera = report.camera {
            lines.append("  camera: executed \(camera.commandsExecuted) commands (\(camera.stops) stops, \(camera.relayStops) by the relay), positions \(camera.positions)")
        }
        if let ptz = report.ptz {
            lines.append("  camera: \(ptz.commandsSent) commands, \(ptz.acknowledged) acknowledged, ack p50 \(ptz.ackMillisecondsP50.map { String(format: "%.1f", $0) } ?? "-") ms, p99 \(ptz.ackMillisecondsP99.map { String(format: "%.1f", $0) } ?? "-") ms, last position \(ptz.lastPosition.map { "\($0)" } ?? "-")")
        }
        for error in report.errors { lines.append("  server error: \(error)") }
        if let reason = report.closedReason { lines.append("  the relay ended the session: \(reason)") }
        return lines.joined(separator: "\n")
    }
}

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the relay: many rooms of one cart and several experts in this process.",
        discussion: """
            Carts replay a pre-encoded VP8 test pattern and Opus tone (no encoding during the run); \
            experts receive without decoding, measuring loss and frame latency (from the relayed \
            sender reports). Prints a live progress line on a terminal and a summary at the end; \
            exit 1 when --expect-max-loss is exceeded or a participant failed to connect.
            """)

    @Option(help: "Signaling URL.") var url = "ws://127.0.0.1:8088/v1/signaling"
    @Option(help: "HS256 secret to mint tokens with (env RELAIS_TOKEN_SECRET).") var tokenSecret: String?
    @Option(help: "Rooms.") var rooms = 10
    @Option(help: "Experts per room (each room also has one cart).") var expertsPerRoom = 2
    @Option(help: "Seconds of load.") var duration: Double = 30
    @Option(help: "Room name prefix.") var roomPrefix = "load"
    @Option(help: "Video width.") var width = 640
    @Option(help: "Video height.") var height = 360
    @Option(help: "Video frames per second.") var fps = 30
    @Option(help: "Video bitrate, kbit/s.") var bitrate = 800
    @Option(help: "Seconds between video keyframes in the replayed stream.") var keyframeInterval: Double = 2
    @Option(help: "Local address for media sockets.") var mediaHost = "127.0.0.1"
    @Flag(help: "Print the summary as JSON.") var json = false
    @Option(help: "Fail when the aggregate loss exceeds this fraction.") var expectMaxLoss: Double?

    struct Summary: Codable {
        var rooms: Int
        var participants: Int
        var connected: Int
        var receivingVideo: Int
        var joinMillisecondsP50: Double
        var joinMillisecondsP99: Double
        var packetsSent: Int
        var packetsReceived: Int64
        var packetsLost: Int64
        var lossFraction: Double
        var latencyMillisecondsP50: Double?
        var latencyMillisecondsP99: Double?
        var generatorCPUSeconds: Double
        var generatorCPUPercentOfOneCore: Double
        var durationSeconds: Double
        var video: String
        var errors: [String]
    }

    func run() async throws {
        var logger = Logger(label: "relais-client-load")
        logger.logLevel = .error
        guard let secret = tokenSecret ?? ProcessInfo.processInfo.environment["RELAIS_TOKEN_SECRET"] else {
            throw ValidationError("give --token-secret to mint the participants' tokens")
        }
        let authority = try await TokenAuthority(secret: secret)

        // Pre-encode once: the carts replay, so the generator's CPU goes to moving packets.
        // Four seconds, replayed in a loop, with a keyframe every `keyframeInterval` seconds.
        let encoder = try VP8Encoder(width: width, height: height, fps: fps, bitrateKbps: bitrate)
        let pattern = TestPattern(width: width, height: height)
        var frames: [[UInt8]] = []
        let keyframeEvery = max(1, Int((keyframeInterval * Double(fps)).rounded()))
        for n in 0..<(fps * 4) {
            let encoded = try encoder.encode(pattern.render(frame: UInt64(n), captureMicros: 0), pts: Int64(n) * Int64(90_000 / max(fps, 1)), forceKeyframe: n % keyframeEvery == 0)
            frames += encoded.map(\.data)
        }
        let opus = try OpusEncoder(channels: 1)
        var tone = ToneGenerator()
        var packets: [[UInt8]] = []
        for _ in 0..<250 { packets.append(try opus.encode(pcm: tone.nextFrame())) }
        let source = PublishSource(video: .frames(frames, fps: fps), audio: .packets(packets))

        let group = MultiThreadedEventLoopGroup.singleton
        let startCPU = Self.cpuSeconds()
        let started = ContinuousClock.now
        let counters = ProgressCounters()
        let interactive = isatty(STDOUT_FILENO) == 1 && !json
        let seconds = duration
        let reports = try await withThrowingTaskGroup(of: (String, ClientReport?, String?).self) { tasks in
            for r in 0..<rooms {
                let room = "\(roomPrefix)-\(r)"
                for p in 0...expertsPerRoom {
                    let isCart = p == 0
                    let name = isCart ? "cart-\(r)" : "expert-\(r)-\(p)"
                    let token = try await authority.mint(AccessClaims(
                        subject: name, displayName: name, role: isCart ? .cart : .expert, room: room,
                        expires: Date().addingTimeInterval(seconds + 600)))
                    var options = ClientOptions(url: url, room: room, token: token)
                    options.mediaHost = mediaHost
                    options.decode = false
                    options.subscribe = !isCart
                    options.publish = isCart ? source : nil
                    let session = try ClientSession(options: options, eventLoop: group.next(), logger: logger)
                    // Carts join first and run a little longer, so experts measure a steady stream.
                    let delay: Duration = isCart ? .zero : .milliseconds(500)
                    let runFor: Duration = .milliseconds(Int64(seconds * 1000)) + (isCart ? .seconds(2) : .zero)
                    tasks.addTask {
                        try? await Task.sleep(for: delay)
                        do {
                            let report = try await session.run(duration: runFor) { progress in
                                counters.update(name, progress)
                            }
                            return (name, report, nil)
                        } catch {
                            return (name, nil, "\(name): \(error)")
                        }
                    }
                }
            }
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    if interactive {
                        let line = counters.line(elapsed: (ContinuousClock.now - started))
                        FileHandle.standardOutput.write(Data("\r\(line)\u{1B}[K".utf8))
                    }
                }
            }
            var all: [(String, ClientReport?, String?)] = []
            for try await result in tasks { all.append(result) }
            ticker.cancel()
            if interactive { print("") }
            return all
        }
        let elapsed = (ContinuousClock.now - started)
        let cpu = Self.cpuSeconds() - startCPU
        let summary = summarize(reports, cpu: cpu, elapsed: elapsed)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            FileHandle.standardOutput.write(try encoder.encode(summary) + Data("\n".utf8))
        } else {
            print(Self.describe(summary))
        }
        if summary.connected < summary.participants { throw ExitCode(1) }
        if let maximum = expectMaxLoss, summary.lossFraction > maximum { throw ExitCode(1) }
    }

    func summarize(_ results: [(String, ClientReport?, String?)], cpu: Double, elapsed: Duration) -> Summary {
        let reports = results.compactMap(\.1)
        let joins = reports.compactMap(\.joinMilliseconds).sorted()
        func percentile(_ values: [Double], _ p: Double) -> Double {
            values.isEmpty ? 0 : values[min(values.count - 1, Int((Double(values.count - 1) * p).rounded()))]
        }
        let videos = reports.flatMap { $0.tracks.filter { $0.kind == "video" } }
        let received = reports.flatMap(\.tracks).reduce(Int64(0)) { $0 + $1.stream.packetsReceived }
        let lost = reports.flatMap(\.tracks).reduce(Int64(0)) { $0 + max($1.stream.packetsLost, 0) }
        let expected = received + lost
        let p50s = videos.compactMap(\.stream.latencyP50Milliseconds).sorted()
        let p99s = videos.compactMap(\.stream.latencyP99Milliseconds).sorted()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Summary(
            rooms: rooms, participants: results.count,
            connected: reports.filter { $0.participantId != nil && ($0.publish != nil ? ($0.publish?.videoFramesSent ?? 0) > 0 : !$0.tracks.isEmpty) }.count,
            receivingVideo: videos.filter { $0.stream.framesDecoded > 0 }.count,
            joinMillisecondsP50: percentile(joins, 0.5), joinMillisecondsP99: percentile(joins, 0.99),
            packetsSent: reports.compactMap(\.publish).reduce(0) { $0 + $1.videoPacketsSent + $1.audioPacketsSent },
            packetsReceived: received, packetsLost: lost,
            lossFraction: expected > 0 ? Double(lost) / Double(expected) : 0,
            latencyMillisecondsP50: p50s.isEmpty ? nil : percentile(p50s, 0.5),
            latencyMillisecondsP99: p99s.last,
            generatorCPUSeconds: cpu, generatorCPUPercentOfOneCore: seconds > 0 ? cpu / seconds * 100 : 0,
            durationSeconds: seconds, video: "\(width)x\(height) VP8 \(fps) fps \(bitrate) kbit/s replayed + Opus",
            errors: results.compactMap(\.2) + reports.flatMap(\.errors))
    }

    static func describe(_ s: Summary) -> String {
        var lines = [
            "rooms \(s.rooms), participants \(s.participants), connected \(s.connected), receiving video \(s.receivingVideo)",
            "join p50 \(Int(s.joinMillisecondsP50)) ms, p99 \(Int(s.joinMillisecondsP99)) ms",
            "packets sent \(s.packetsSent), received \(s.packetsReceived), lost \(s.packetsLost) (\(String(format: "%.3f", s.lossFraction * 100))%)",
            "frame latency p50 \(s.latencyMillisecondsP50.map { String(format: "%.1f", $0) } ?? "-") ms, p99 \(s.latencyMillisecondsP99.map { String(format: "%.1f", $0) } ?? "-") ms (median of per-track p50, worst per-track p99)",
            "generator CPU \(String(format: "%.1f", s.generatorCPUSeconds)) s over \(String(format: "%.1f", s.durationSeconds)) s (\(Int(s.generatorCPUPercentOfOneCore))% of one core)",
            "media: \(s.video)",
        ]
        for error in s.errors.prefix(10) { lines.append("error: \(error)") }
        return lines.joined(separator: "\n")
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// Latest progress of every participant, for the live line.
final class ProgressCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: [String: ClientReport] = [:]

    func update(_ name: String, _ report: ClientReport) {
        lock.lock()
        latest[name] = report
        lock.unlock()
    }

    func line(elapsed: Duration) -> String {
        lock.lock()
        let reports = Array(latest.values)
        lock.unlock()
        let joined = reports.filter { $0.participantId != nil }.count
        let received = reports.flatMap(\.tracks).reduce(Int64(0)) { $0 + $1.stream.packetsReceived }
        let lost = reports.flatMap(\.tracks).reduce(Int64(0)) { $0 + max($1.stream.packetsLost, 0) }
        return "t=\(elapsed.components.seconds)s joined \(joined) received \(received) packets, lost \(lost)"
    }
}
