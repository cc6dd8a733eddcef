import Foundation
import Logging
import RelaisCamera
import RelaisAuth
import RelaisNegotiation
import RelaisSignaling
import RelaisTransport
import RelaisWire

/// One participant as the room's signaling sees it.
final class ParticipantState {
    let id: String
    let info: Participant
    /// The token's subject: who this is at the hospital's identity service (audit, admin API).
    let subject: String
    let joinedAt = Date()
    var outbox: Outbox?
    var resumeToken: String
    /// Bumped on every detach/attach, so a stale resume-window timer does nothing.
    var attachment = 0

    // Publish connection (client offers).
    var publishTransport: TransportID?
    var publishLocal: ICECredentials?
    var publishRemote: SDPTransportAttributes?
    var publishVersion = 0
    var published: [(section: PublishedSection, track: Track)] = []

    // Subscribe connection (relay offers).
    var subscribeTransport: TransportID?
    var subscribeLocal: ICECredentials?
    var subscribeRemoteUfrag: String?
    var slots: [RoomNegotiation.SubscribeSlot] = []
    /// Simulcast layers chosen with `selectLayer`, by track id (the media loop keeps a copy).
    var layerPreferences: [String: String] = [:]
    var revision = 0
    var outstanding: (revision: Int, slots: [RoomNegotiation.SubscribeSlot], credentials: ICECredentials)?
    var renegotiationPending = false
    var iceRestartPending = false
    var candidatesSent: String?

    init(id: String, info: Participant, subject: String, resumeToken: String) {
        self.id = id
        self.info = info
        self.subject = subject
        self.resumeToken = resumeToken
    }
}

/// A consultation room's signaling: who is in it, what they publish, and the negotiation of every
/// participant's two peer connections. Media lives on one media loop (`loop`); the room reaches it
/// with a hop per signaling operation, never per packet.
///
/// One concern per file: membership (`Room+Membership`), publishing (`Room+Publishing`),
/// subscribing (`Room+Subscribing`), camera control (`Room+Camera`), the media loop's events
/// (`Room+MediaEvents`), the operators' view and actions (`Room+Admin`).
actor Room {
    let name: String
    let loop: Int
    let media: MediaServer
    let configuration: SignalingConfiguration
    let registry: RoomRegistry
    let logger: Logger
    /// This consultation: the room from its first join until it empties (history, admin API).
    let consultationID = "c-" + randomToken(12)
    let startedAt = Date()
    let observer: ServerObserver
    /// Why the consultation ends when its last participant goes (history).
    var endReason = "empty"
    nonisolated var scope: ServerObserver.Scope { .init(consultation: consultationID, room: name) }
    /// The room's media state on its loop is keyed by consultation, not by name: a room that ended
    /// and a later room of the same name never share producers or an event sink.
    nonisolated var mediaKey: String { consultationID }
    var participants: [String: ParticipantState] = [:]
    /// Join order, for stable listings and m-line order.
    var order: [String] = []
    let sessionID = UInt64.random(in: 1...UInt64(Int64.max))
    var closed = false
    /// The room's camera control rules (floors, validation, coalescing, deadman, audit).
    var camera: CameraControl
    var cameraTimer: Task<Void, Never>?
    var cameraTimerDeadline: Instant?
    /// Where the media loop puts this room's events (transports connected and closed): one stream,
    /// consumed in order by one task, so a transport's closing is never handled before its
    /// connection, nor a replaced transport's closing after its replacement's events.
    nonisolated let mediaEventSink: AsyncStream<RoomMediaEvent>.Continuation

    init(name: String, loop: Int, media: MediaServer, configuration: SignalingConfiguration, registry: RoomRegistry, observer: ServerObserver, logger: Logger) {
        self.name = name
        self.observer = observer
        self.loop = loop
        self.media = media
        self.configuration = configuration
        self.registry = registry
        var logger = logger
        logger[metadataKey: "room"] = "\(name)"
        logger[metadataKey: "consultation"] = "\(consultationID)"
        self.logger = logger
        self.camera = CameraControl(configuration: .init(policy: configuration.cameraFloorPolicy, deadman: configuration.cameraDeadman))
        let (events, sink) = AsyncStream<RoomMediaEvent>.makeStream()
        self.mediaEventSink = sink
        Task { [weak self] in
            for await event in events { await self?.handle(event) }
        }
    }

    deinit { mediaEventSink.finish() }

    var isEmpty: Bool { participants.isEmpty }

    /// Everyone but `id`, in join order.
    func others(_ id: String) -> [ParticipantState] {
        order.filter { $0 != id }.compactMap { participants[$0] }
    }

    func roster(excluding id: String) -> (participants: [Participant], tracks: [Track]) {
        let rest = others(id)
        return (rest.map(\.info), rest.flatMap { $0.published.map(\.track) })
    }

    func broadcast(_ message: ServerMessage, except id: String?) {
        for p in participants.values where p.id != id { p.outbox?.send(message) }
    }

}


extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Random URL-safe token (participant ids, resume tokens): not guessable, not a secret's hash.
func randomToken(_ length: Int) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    var generator = SystemRandomNumberGenerator()
    return String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
}
