import Foundation
import RelaisSignaling

/// Runs a PTZ script for an expert: takes the floor, sends commands through the relay, waits
/// for each acknowledgement and times it. Messages from the server arrive through `receive`.
actor PTZRunner {
    private let script: PTZScript
    private let send: @Sendable (ClientMessage) -> Void
    private var cameras: [String: CameraDescription] = [:]
    private var cameraWaiters: [CheckedContinuation<Void, Never>] = []
    private var pending: [String: (sent: ContinuousClock.Instant, waiter: CheckedContinuation<CameraAckBody?, Never>?)] = [:]
    private var pendingMoves: [String: ContinuousClock.Instant] = [:]
    private var ackTimes: [Double] = []
    private var moveAckTimes: [Double] = []
    private var report = PTZReport()
    private var counter = 0
    /// Requests whose wait ended before they were registered (so registration resumes at once).
    private var expired: Set<String> = []

    init(script: PTZScript, send: @escaping @Sendable (ClientMessage) -> Void) {
        self.script = script
        self.send = send
    }

    func receive(_ message: ServerMessage) {
        switch message {
        case .camerasAvailable(let available):
            for camera in available.cameras { cameras[camera.cameraId] = camera }
            let waiters = cameraWaiters
            cameraWaiters = []
            for waiter in waiters { waiter.resume() }
        case .floor(let floor):
            if let controller = floor.controller { report.controlled.append("\(floor.cameraId):\(controller)") }
        case .cameraAck(let ack):
            if let sent = pendingMoves.removeValue(forKey: ack.commandId) {
                let elapsed = ContinuousClock.now - sent
                moveAckTimes.append(elapsed.milliseconds)
                report.movesAcknowledged += 1
                if let position = ack.position { report.lastPosition = position }
                return
            }
            guard let entry = pending.removeValue(forKey: ack.commandId) else { return }
            let elapsed = ContinuousClock.now - entry.sent
            ackTimes.append(elapsed.milliseconds)
            report.acknowledged += 1
            if ack.result != .ok { report.failed += 1 }
            if let position = ack.position { report.lastPosition = position }
            entry.waiter?.resume(returning: ack)
        case .error(let error):
            guard let id = error.requestId else { return }
            report.refused.append("\(error.code.rawValue)")
            if let entry = pending.removeValue(forKey: id) { entry.waiter?.resume(returning: nil) }
            pendingMoves.removeValue(forKey: id)
        default:
            break
        }
    }

    /// Waits (up to `timeout`) for a camera to be advertised, then runs every step.
    func run(timeout: Duration = .seconds(10)) async -> PTZReport {
        if cameras.isEmpty {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.waitForCamera() }
                group.addTask { try? await Task.sleep(for: timeout) }
                await group.next()
                group.cancelAll()
                await self.releaseCameraWaiters()
            }
        }
        guard let defaultCamera = cameras.keys.sorted().first else {
            report.refused.append("no camera advertised")
            return finish()
        }
        for step in script.steps {
            switch step {
            case .floorRequest(let camera):
                _ = await request(.floorRequest(FloorBody(requestId: nextID("floor"), cameraId: camera ?? defaultCamera)), waitFor: nil)
                try? await Task.sleep(for: .milliseconds(50))  // let the floor broadcast arrive before commanding
            case .floorRelease(let camera):
                send(.floorRelease(FloorBody(requestId: nextID("release"), cameraId: camera ?? defaultCamera)))
            case .command(let command, let camera, let expect):
                let id = nextID("cmd")
                let ack = await request(.cameraCommand(CameraCommandBody(requestId: id, cameraId: camera ?? defaultCamera, commandId: id, command: command)), waitFor: id)
                if let expect {
                    if let position = ack?.position, Self.close(position, expect) {
                        continue
                    }
                    report.positionMismatches.append("\(command.kind): got \(ack?.position.map { "\($0)" } ?? "no position"), expected \(expect)")
                }
            case .move(let pan, let tilt, let zoom, let duration, let every, let camera):
                let end = ContinuousClock.now + .milliseconds(duration)
                while ContinuousClock.now < end {
                    let id = nextID("move")
                    pendingMoves[id] = ContinuousClock.now
                    report.movesSent += 1
                    send(.cameraCommand(CameraCommandBody(requestId: id, cameraId: camera ?? defaultCamera, commandId: id, command: .move(pan: pan, tilt: tilt, zoom: zoom))))
                    try? await Task.sleep(for: .milliseconds(every))
                }
            case .wait(let milliseconds):
                try? await Task.sleep(for: .milliseconds(milliseconds))
            }
        }
        return finish()
    }

    private func waitForCamera() async {
        if !cameras.isEmpty { return }
        await withCheckedContinuation { cameraWaiters.append($0) }
    }

    private func releaseCameraWaiters() {
        let waiters = cameraWaiters
        cameraWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Sends and, for commands, waits up to 2 s for the acknowledgement (or a refusal).
    private func request(_ message: ClientMessage, waitFor id: String?) async -> CameraAckBody? {
        guard let id else {
            send(message)
            return nil
        }
        report.commandsSent += 1
        let ack: CameraAckBody? = await withTaskGroup(of: CameraAckBody?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    Task { await self.register(id, continuation, then: message) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                if !Task.isCancelled { await self.expire(id) }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return ack
    }

    private func register(_ id: String, _ continuation: CheckedContinuation<CameraAckBody?, Never>, then message: ClientMessage) {
        if expired.remove(id) != nil {
            continuation.resume(returning: nil)
            return
        }
        pending[id] = (ContinuousClock.now, continuation)
        send(message)
    }

    private func expire(_ id: String) {
        if let entry = pending.removeValue(forKey: id) {
            entry.waiter?.resume(returning: nil)
        } else {
            expired.insert(id)
        }
    }

    private func nextID(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)-\(counter)"
    }

    private func finish() -> PTZReport {
        pendingMoves.removeAll()
        let sorted = ackTimes.sorted()
        if !sorted.isEmpty {
            report.ackMillisecondsP50 = sorted[sorted.count / 2]
            report.ackMillisecondsP99 = sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * 0.99))]
            report.ackMillisecondsMax = sorted.last
        }
        let moves = moveAckTimes.sorted()
        if !moves.isEmpty {
            report.moveAckMillisecondsP50 = moves[moves.count / 2]
            report.moveAckMillisecondsP99 = moves[min(moves.count - 1, Int(Double(moves.count - 1) * 0.99))]
        }
        return report
    }

    static func close(_ a: CameraPosition, _ b: CameraPosition) -> Bool {
        abs(a.pan - b.pan) < 0.5 && abs(a.tilt - b.tilt) < 0.5 && abs(a.zoom - b.zoom) < 0.05
    }
}
