import Logging
public import RelaisCamera
import RelaisSignaling

/// All rooms of this server, and the resume tokens that lead back into them.
actor RoomRegistry {
    let media: MediaServer
    let configuration: SignalingConfiguration
    let logger: Logger
    private var rooms: [String: Room] = [:]
    private var resumeTokens: [String: (room: String, participant: String)] = [:]
    private var shuttingDown = false
    /// Camera commands accepted or refused, newest last, bounded; the monitoring issue persists them.
    private var cameraAudit: [CameraAuditEntry] = []
    static let cameraAuditCapacity = 10_000

    init(media: MediaServer, configuration: SignalingConfiguration, logger: Logger) {
        self.media = media
        self.configuration = configuration
        self.logger = logger
    }

    /// The room named `name`, created on a media loop (round robin) on first use.
    func room(named name: String) throws(SignalingError) -> Room {
        guard !shuttingDown else { throw SignalingError(.internal, "the server is shutting down") }
        if let room = rooms[name] { return room }
        let room = Room(name: name, loop: media.pickLoop(), media: media, configuration: configuration, registry: self, logger: logger)
        rooms[name] = room
        return room
    }

    func roomBecameEmpty(_ room: Room) async {
        guard rooms[room.name] === room, await room.isEmpty else { return }
        rooms.removeValue(forKey: room.name)
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
