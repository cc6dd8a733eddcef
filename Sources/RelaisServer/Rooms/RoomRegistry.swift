import Foundation
import Logging
import RelaisAdmin
public import RelaisCamera
import RelaisSignaling

/// All rooms of this server, and the resume tokens that lead back into them.
actor RoomRegistry {
    let media: MediaServer
    let configuration: SignalingConfiguration
    let logger: Logger
    let observer: ServerObserver
    private var rooms: [String: Room] = [:]
    private var resumeTokens: [String: (room: String, participant: String)] = [:]
    private var shuttingDown = false
    /// Camera commands accepted or refused, newest last, bounded; the monitoring issue persists them.
    private var cameraAudit: [CameraAuditEntry] = []
    static let cameraAuditCapacity = 10_000

    init(media: MediaServer, configuration: SignalingConfiguration, observer: ServerObserver, logger: Logger) {
        self.media = media
        self.observer = observer
        self.configuration = configuration
        self.logger = logger
    }

    /// The room named `name`, created on a media loop (round robin) on first use.
    func room(named name: String) throws(SignalingError) -> Room {
        guard !shuttingDown else { throw SignalingError(.internal, "the server is shutting down") }
        if let room = rooms[name] { return room }
        let room = Room(name: name, loop: media.pickLoop(), media: media, configuration: configuration, registry: self, observer: observer, logger: logger)
        rooms[name] = room
        observer.consultationStarted(room.scope, at: room.startedAt)
        return room
    }

    func roomBecameEmpty(_ room: Room) async {
        guard rooms[room.name] === room, await room.isEmpty else { return }
        rooms.removeValue(forKey: room.name)
        observer.consultationEnded(room.scope, reason: await room.endReason, at: Date())
    }

    func rememberResume(token: String, room: String, participant: String) {
        resumeTokens[token] = (room, participant)
    }

    func forgetResume(token: String) {
        resumeTokens.removeValue(forKey: token)
    }

    func resumeTarget(token: String) -> (Room, String)? {
        guard let target = resumeTokens[token], let room = rooms[target.room] else { return nil }
        return (room, target.participant)
    }

    var roomCount: Int { rooms.count }

    // MARK: Operators

    /// Live rooms, oldest consultation first.
    var allRooms: [Room] { rooms.values.sorted { $0.startedAt < $1.startedAt } }

    /// A live room by consultation id or room name.
    func room(matching id: String) -> Room? {
        rooms[id] ?? rooms.values.first { $0.consultationID == id }
    }

    /// The room a participant is in.
    func room(ofParticipant id: String) async -> Room? {
        for room in rooms.values where await room.hasParticipant(id) { return room }
        return nil
    }

    /// Participants in every room (for the `relais_participants` gauge).
    func participantCount() async -> Int {
        var count = 0
        for room in rooms.values { count += await room.participantIDs.count }
        return count
    }

    func audit(room: String, _ record: CameraAuditRecord) {
        cameraAudit.append(CameraAuditEntry(room: room, record: record))
        if cameraAudit.count > Self.cameraAuditCapacity { cameraAudit.removeFirst(cameraAudit.count - Self.cameraAuditCapacity) }
    }

    /// The camera audit trail (newest last).
    func cameraAuditLog() -> [CameraAuditEntry] { cameraAudit }

    func shutdown() async {
        shuttingDown = true
        for room in rooms.values { await room.shutdown() }
        rooms.removeAll()
        resumeTokens.removeAll()
    }
}

/// One camera audit record with the room it happened in.
public struct CameraAuditEntry: Sendable, Codable, Equatable {
    public var room: String
    public var record: CameraAuditRecord
}
