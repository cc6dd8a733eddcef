import Foundation
import RelaisClient
import RelaisSignaling
import RelaisWire
import Synchronization
import Testing

/// `VISCACamera` against the independent Python camera (Tests/EndToEndTests/peers/visca_camera.py):
/// the Swift side must get ACK and completion, the Python side must log the command it parsed
/// with the right values, and inquiries must return the Python camera's state.
@Suite(.serialized) struct VISCACameraIntegrationTests {
    static let now = Instant.zero

    @Test func connectingSendsResetFirst() async throws {
        let camera = try await PythonVISCACamera.start()
        defer { camera.stop() }
        try await camera.withDriver { driver in
            let reset = try await camera.next("reset")
            #expect(reset.seq == 0)
            let counters = await driver.counters()
            #expect(counters.datagramsSent == 1)
            #expect(counters.completions == 1)
        }
    }

    @Test func everyCommandKindIsUnderstoodAcknowledgedAndCompleted() async throws {
        let camera = try await PythonVISCACamera.start()
        defer { camera.stop() }
        try await camera.withDriver(reportsPosition: false) { driver in
            _ = try await camera.next("reset")

            // One command at a time: each VISCA message gets exactly one ACK and one completion.
            func run(_ command: CameraCommand, messages: Int) async throws -> CameraResult {
                let before = await driver.counters()
                let (result, _) = await driver.execute(command, now: Self.now)
                let after = await driver.counters()
                #expect(after.acks - before.acks == messages, "\(command)")
                #expect(after.completions - before.completions == messages, "\(command)")
                #expect(after.retransmissions == 0 && after.timeouts == 0 && after.errors == 0)
                return result
            }

            #expect(try await run(.move(pan: 0.5, tilt: -1, zoom: 0.25), messages: 2) == .ok)
            var log = try await camera.next("pantilt_drive")
            #expect(log.pan_speed == 12 && log.tilt_speed == 0x17 && log.dir == "downright")
            log = try await camera.next("zoom")
            #expect(log.action == "tele" && log.speed == 1)

            #expect(try await run(.move(pan: -1, tilt: 0.2, zoom: -1), messages: 2) == .ok)
            log = try await camera.next("pantilt_drive")
            #expect(log.pan_speed == 0x18 && log.tilt_speed == 5 && log.dir == "upleft")
            log = try await camera.next("zoom")
            #expect(log.action == "wide" && log.speed == 7)

            #expect(try await run(.stop, messages: 2) == .ok)
            log = try await camera.next("pantilt_drive")
            #expect(log.dir == "stop")
            log = try await camera.next("zoom")
            #expect(log.action == "stop" && log.speed == nil)

            #expect(try await run(.absolute(pan: 170, tilt: -30, zoom: 12), messages: 2) == .ok)
            log = try await camera.next("pantilt_absolute")
            #expect(log.pan == 0x0990 && log.tilt == -432 && log.pan_speed == 0x18 && log.tilt_speed == 0x17)
            log = try await camera.next("zoom_direct")
            #expect(log.position == 0x4000)

            #expect(try await run(.focus(mode: .manual, position: 0.5), messages: 2) == .ok)
            log = try await camera.next("focus_mode")
            #expect(log.mode == "manual")
            log = try await camera.next("focus_direct")
            #expect(log.position == 0x8000)
            #expect(try await run(.focus(mode: .auto, position: nil), messages: 1) == .ok)
            #expect(try await camera.next("focus_mode").mode == "auto")

            #expect(try await run(.presetSave(preset: 2), messages: 1) == .ok)
            #expect(try await camera.next("preset_set").preset == 2)

            #expect(try await run(.home, messages: 2) == .ok)
            #expect(try await camera.next("zoom_direct").position == 0)
            _ = try await camera.next("pantilt_home")

            #expect(try await run(.presetGoto(preset: 2), messages: 1) == .ok)
            log = try await camera.next("preset_recall")
            #expect(log.preset == 2 && log.error == nil)
        }
    }

    @Test func positionInquiriesReturnThePythonCamerasState() async throws {
        let camera = try await PythonVISCACamera.start()
        defer { camera.stop() }
        try await camera.withDriver { driver in
            #expect(await driver.position(now: Self.now) == CameraPosition(pan: 0, tilt: 0, zoom: 1))
            var log = try await camera.next("pantilt_position_inquiry")
            #expect(log.pan == 0 && log.tilt == 0)
            #expect(try await camera.next("zoom_position_inquiry").zoom == 0)

            // The acknowledgement reports the position the camera answers after the command.
            let (result, position) = await driver.execute(.absolute(pan: -85, tilt: 45, zoom: 6.5), now: Self.now)
            #expect(result == .ok)
            log = try await camera.next("pantilt_absolute")
            #expect(log.pan == -1224 && log.tilt == 648)
            #expect(try await camera.next("zoom_direct").position == 0x2000)
            log = try await camera.next("pantilt_position_inquiry")
            #expect(log.pan == -1224 && log.tilt == 648)
            #expect(try await camera.next("zoom_position_inquiry").zoom == 0x2000)
            let expected = CameraPosition(pan: -85, tilt: 45, zoom: 6.5)
            #expect(position.map { near($0, expected) } == true)

            // Absolute with one axis keeps the other (inquired first); relative adds to the position.
            #expect(await driver.execute(.absolute(pan: 10, tilt: nil, zoom: nil), now: Self.now).0 == .ok)
            _ = try await camera.next("pantilt_position_inquiry")
            log = try await camera.next("pantilt_absolute")
            #expect(log.pan == 144 && log.tilt == 648)
            let (relative, moved) = await driver.execute(.relative(pan: -20, tilt: nil, zoom: -100), now: Self.now)
            #expect(relative == .ok)
            log = try await camera.next("pantilt_absolute")
            #expect(log.pan == -144 && log.tilt == 648)
            #expect(try await camera.next("zoom_direct").position == 0)
            #expect(moved.map { near($0, CameraPosition(pan: -10, tilt: 45, zoom: 1)) } == true)

            // A preset round trip comes back to the saved position.
            #expect(await driver.execute(.presetSave(preset: 0), now: Self.now).0 == .ok)
            #expect(await driver.execute(.home, now: Self.now) == (.ok, CameraPosition(pan: 0, tilt: 0, zoom: 1)))
            let (recalled, back) = await driver.execute(.presetGoto(preset: 0), now: Self.now)
            #expect(recalled == .ok)
            #expect(back.map { near($0, CameraPosition(pan: -10, tilt: 45, zoom: 1)) } == true)
        }
    }

    @Test func cameraErrorsAndLocalRefusalsFail() async throws {
        let camera = try await PythonVISCACamera.start()
        defer { camera.stop() }
        try await camera.withDriver { driver in
            _ = try await camera.next("reset")

            // Never saved: the camera answers ACK then "not executable".
            #expect(await driver.execute(.presetGoto(preset: 5), now: Self.now) == (.failed, nil))
            #expect(try await camera.next("preset_recall").error == "not_executable")
            #expect(await driver.counters().errors == 1)

            // Refused before anything is sent: out of range, not finite, beyond the presets.
            let sent = await driver.counters().datagramsSent
            #expect(await driver.execute(.absolute(pan: 200, tilt: nil, zoom: nil), now: Self.now) == (.failed, nil))
            #expect(await driver.execute(.move(pan: .nan, tilt: 0, zoom: 0), now: Self.now) == (.failed, nil))
            #expect(await driver.execute(.presetSave(preset: 16), now: Self.now) == (.failed, nil))
            #expect(await driver.execute(.focus(mode: .manual, position: 2), now: Self.now) == (.failed, nil))
            #expect(await driver.counters().datagramsSent == sent)
        }
    }

    @Test func capabilitiesTheCameraLacksAreUnsupported() async throws {
        let camera = try await PythonVISCACamera.start()
        defer { camera.stop() }
        var description = VISCACamera.description()
        description.capabilities.focus = false
        description.capabilities.presets = 0
        try await camera.withDriver(description: description) { driver in
            let sent = await driver.counters().datagramsSent
            #expect(await driver.execute(.focus(mode: .auto, position: nil), now: Self.now) == (.unsupported, nil))
            #expect(await driver.execute(.presetGoto(preset: 0), now: Self.now) == (.unsupported, nil))
            #expect(await driver.counters().datagramsSent == sent)
        }
    }

    @Test func aLostDatagramIsRetransmittedOnceWithTheSameSequenceNumber() async throws {
        let camera = try await PythonVISCACamera.start(arguments: ["--drop-seq", "1"])
        defer { camera.stop() }
        try await camera.withDriver(reportsPosition: false, ackTimeout: .milliseconds(500)) { driver async throws in
            #expect(await driver.execute(.presetSave(preset: 1), now: Self.now) == (.ok, nil))
            #expect(try await camera.next(event: "dropped").seq == 1)
            #expect(try await camera.next("preset_set").seq == 1)
            let counters = await driver.counters()
            #expect(counters.retransmissions == 1 && counters.acks == 1 && counters.completions == 2 && counters.timeouts == 0)
        }
    }

    @Test func noAnswerAfterTheRetransmissionFails() async throws {
        let camera = try await PythonVISCACamera.start(arguments: ["--drop-seq", "1", "--drop-seq", "1"])
        defer { camera.stop() }
        try await camera.withDriver(reportsPosition: false, ackTimeout: .milliseconds(500)) { driver in
            #expect(await driver.execute(.home, now: Self.now) == (.failed, nil))
            _ = try await camera.next(event: "dropped")
            _ = try await camera.next(event: "dropped")
            let counters = await driver.counters()
            #expect(counters.retransmissions == 1 && counters.timeouts == 1)
            // The camera still works for the next command (sequence 2).
            #expect(await driver.execute(.stop, now: Self.now) == (.ok, nil))
            #expect(try await camera.next("pantilt_drive").seq == 2)
        }
    }

    @Test func connectFailsWithoutAResetReply() async throws {
        let camera = try await PythonVISCACamera.start(arguments: ["--drop-seq", "0", "--drop-seq", "0"])
        defer { camera.stop() }
        await #expect(throws: VISCACameraError.noResetReply) {
            _ = try await camera.connect(ackTimeout: .milliseconds(100))
        }
    }

    private func near(_ a: CameraPosition, _ b: CameraPosition) -> Bool {
        abs(a.pan - b.pan) < 0.01 && abs(a.tilt - b.tilt) < 0.01 && abs(a.zoom - b.zoom) < 0.01
    }
}

/// One line the Python camera logged.
struct CameraLogRecord: Decodable, Sendable, Equatable {
    var cmd: String?
    var event: String?
    var seq: Int?
    var pan_speed: Int?
    var tilt_speed: Int?
    var dir: String?
    var pan: Int?
    var tilt: Int?
    var zoom: Int?
    var position: Int?
    var preset: Int?
    var action: String?
    var speed: Int?
    var mode: String?
    var error: String?
}

struct CameraProcessError: Error, CustomStringConvertible {
    var description: String
}

/// The Python camera as a subprocess: its stdout lines, in order, with waiting on the next
/// matching one (deadlines are failure timeouts only; nothing sleeps to synchronize).
final class PythonVISCACamera: Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EndToEndTests/peers/visca_camera.py")

    private struct Waiter {
        var id: Int
        var predicate: @Sendable (String) -> Bool
        var continuation: CheckedContinuation<String?, Never>
    }

    private struct State {
        var pending: [UInt8] = []
        var lines: [String] = []
        /// Lines before the cursor have been consumed by `next`.
        var cursor = 0
        var waiters: [Waiter] = []
        var nextWaiter = 0
        var ended = false
    }

    private let state = Mutex(State())
    private let process: Process
    private let stdin: Pipe
    private let portBox = Mutex(0)

    static func start(arguments: [String] = []) async throws -> PythonVISCACamera {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--port", "0"] + arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        let camera = PythonVISCACamera(process: process, stdin: stdin)
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            camera.received(data)
            if data.isEmpty { handle.readabilityHandler = nil }
        }
        try process.run()
        guard let line = await camera.nextLine(where: { $0.hasPrefix("listening ") }),
              let port = Int(line.dropFirst("listening ".count)) else {
            camera.stop()
            throw CameraProcessError(description: "visca_camera.py did not print its port")
        }
        camera.portBox.withLock { $0 = port }
        return camera
    }

    private init(process: Process, stdin: Pipe) {
        self.process = process
        self.stdin = stdin
    }

    var boundPort: Int { portBox.withLock { $0 } }

    func connect(description: CameraDescription = VISCACamera.description(), reportsPosition: Bool = true,
                 ackTimeout: Duration = .seconds(1)) async throws -> VISCACamera {
        try await VISCACamera.connect(description: description, configuration: VISCACamera.Configuration(
            host: "127.0.0.1", port: boundPort, ackTimeout: ackTimeout, completionTimeout: .seconds(2), reportsPosition: reportsPosition))
    }

    /// Connects a driver to this camera, runs `body` with it, and awaits the driver's close whether
    /// the body returned or threw (an un-awaited close left the driver's socket open into the next test).
    func withDriver(description: CameraDescription = VISCACamera.description(), reportsPosition: Bool = true,
                    ackTimeout: Duration = .seconds(1), _ body: (VISCACamera) async throws -> Void) async throws {
        let driver = try await connect(description: description, reportsPosition: reportsPosition, ackTimeout: ackTimeout)
        do {
            try await body(driver)
        } catch {
            await driver.close()
            throw error
        }
        await driver.close()
    }

    /// Closing stdin ends the script (it also ends if the test process dies).
    func stop() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
    }

    /// The next unconsumed record with `cmd` (or `event`).
    func next(_ cmd: String? = nil, event: String? = nil, timeout: Duration = .seconds(5)) async throws -> CameraLogRecord {
        let decode: @Sendable (String) -> CameraLogRecord? = { try? JSONDecoder().decode(CameraLogRecord.self, from: Data($0.utf8)) }
        guard let line = await nextLine(where: { line in
            guard let record = decode(line) else { return false }
            return (cmd == nil || record.cmd == cmd) && (event == nil || record.event == event)
        }, timeout: timeout), let record = decode(line) else {
            throw CameraProcessError(description: "visca_camera.py logged no \(cmd ?? event ?? "record") in time; lines: \(state.withLock { $0.lines })")
        }
        return record
    }

    /// Waits for the first unconsumed line matching `predicate` and consumes the lines up to it.
    func nextLine(where predicate: @escaping @Sendable (String) -> Bool, timeout: Duration = .seconds(10)) async -> String? {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.resolve(id, with: nil)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let found: String?? = state.withLock { state in
                if let index = state.lines[state.cursor...].firstIndex(where: predicate) {
                    state.cursor = index + 1
                    return .some(state.lines[index])
                }
                if state.ended { return .some(nil) }
                state.waiters.append(Waiter(id: id, predicate: predicate, continuation: continuation))
                return nil
            }
            if let found { continuation.resume(returning: found) }
        }
    }

    private func resolve(_ id: Int, with line: String?) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: line)
    }

    private func received(_ data: Data) {
        let ready: [(Waiter, String?)] = state.withLock { state in
            var ready: [(Waiter, String?)] = []
            if data.isEmpty {
                state.ended = true
                ready = state.waiters.map { ($0, nil) }
                state.waiters = []
                return ready
            }
            state.pending.append(contentsOf: data)
            while let newline = state.pending.firstIndex(of: UInt8(ascii: "\n")) {
                state.lines.append(String(decoding: state.pending[..<newline], as: UTF8.self))
                state.pending.removeSubrange(...newline)
            }
            // Serve waiters in order, each consuming up to its line.
            while let first = state.waiters.first,
                  let index = state.lines[state.cursor...].firstIndex(where: first.predicate) {
                state.cursor = index + 1
                ready.append((state.waiters.removeFirst(), state.lines[index]))
            }
            return ready
        }
        for (waiter, line) in ready { waiter.continuation.resume(returning: line) }
    }
}
