import Foundation
import Logging
import RelaisCamera
import RelaisAuth
import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// Camera control: the rules are `CameraControl`'s; the room delivers what they decide and keeps
/// their timer.
extension Room {
    // MARK: Camera control

    /// Camera advertisements, floor operations, commands and acknowledgements: the rules are
    /// `CameraControl`'s; the room delivers what it decides and keeps its timer.
    func camera(_ message: ClientMessage, from participantId: String) async throws(SignalingError) {
        guard participants[participantId] != nil else { return }
        await apply(camera.handle(message, from: participantId, now: .now))
    }

    /// Carries out the camera rules' decisions: messages, refusals, audit records, and the next tick.
    func apply(_ outputs: [CameraOutput]) async {
        for output in outputs {
            switch output {
            case .send(let to, let message):
                participants[to]?.outbox?.send(message)
            case .broadcast(let message, let except):
                broadcast(message, except: except)
                if case .floor(let floor) = message {
                    observer.event(.cameraFloor, scope, participant: floor.controller,
                                   detail: "\(floor.cameraId): \(floor.controller.map { "controlled by \($0)" } ?? "free"), \(floor.requested.count) waiting")
                }
            case .refuse(let to, let requestId, let error):
                participants[to]?.outbox?.fail(error, requestId: requestId)
            case .audit(let record):
                logger.info("camera audit", metadata: [
                    "participant": "\(record.participantId)", "camera": "\(record.cameraId ?? "-")", "kind": "\(record.kind)",
                    "outcome": "\(record.outcome)",
                ])
                await registry.audit(room: name, record)
                observer.camera(scope, record, at: Date())
            }
        }
        scheduleCameraTick()
    }

    /// One timer for the rules' next deadline (deadman stops, coalesced moves due).
    func scheduleCameraTick() {
        guard let deadline = camera.nextDeadline else {
            cameraTimer?.cancel()
            cameraTimer = nil
            cameraTimerDeadline = nil
            return
        }
        if let current = cameraTimerDeadline, current <= deadline, cameraTimer != nil { return }
        cameraTimer?.cancel()
        cameraTimerDeadline = deadline
        let delay = deadline.since(.now)
        cameraTimer = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self?.cameraTick()
        }
    }

    func cameraTick() async {
        cameraTimer = nil
        cameraTimerDeadline = nil
        await apply(camera.tick(now: .now))
    }
}
