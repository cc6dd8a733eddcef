import Foundation
import Logging
import NIOPosix
import RelaisAuth
import RelaisSignaling
@testable import RelaisServer
import RelaisTransport
import RelaisWire
import Testing

/// A Room's life against a real media loop (loopback, OS-chosen port) with in-memory signaling
/// connections: what survives a resume, what the end of a room leaves behind, and what a closed
/// transport leads to. Each wait is for a message the room must send, bounded by a deadline.
@Suite(.serialized) struct RoomLifecycleTests {
    /// The room's server side: one media loop, a registry, no history.
    struct Relay {
        let media: MediaServer
        let registry: RoomRegistry

        static func start(_ configure: (inout SignalingConfiguration) -> Void = { _ in }) async throws -> Relay {
            var mediaConfiguration = MediaConfiguration()
            mediaConfiguration.port = 0
            var logger = Logger(label: "room-lifecycle-test")
            logger.logLevel = .critical
            let media = try await MediaServer.start(
                configuration: mediaConfiguration, certificate: try DTLSCertificate.generateSelfSigned(commonName: "relais-test"),
                group: MultiThreadedEventLoopGroup.singleton, logger: logger)
            var signaling = SignalingConfiguration()
            configure(&signaling)
            let observer = ServerObserver(events: SessionEventHub(), metrics: ServerMetrics(), history: nil)
            return Relay(media: media, registry: RoomRegistry(media: media, configuration: signaling, observer: observer, logger: logger))
        }

        func stop() async {
            await registry.shutdown()
            await media.shutdown()
        }

        enum Teardown { case everything, mediaOnly }

        /// Runs a test against a fresh relay and awaits its teardown, failed or not, so the next
        /// test never shares the machine with this one's rooms and sockets.
        static func run(stopping teardown: Teardown = .everything, _ body: (Relay) async throws -> Void) async throws {
            let relay = try await start()
            do {
                try await body(relay)
            } catch {
                await relay.stop()
                throw error
            }
            if teardown == .everything { await relay.stop() } else { await relay.media.shutdown() }
        }

        /// Media rooms on the (only) loop, by key, with their publisher and subscriber transports.
        func loopRooms() async throws -> [String: (publishers: [TransportID], subscribers: [TransportID], producers: Int)] {
            try await media.onLoop(0) { loop in
                loop.rooms.mapValues { (Array($0.publishers.keys), Array($0.subscribers.keys), $0.producers.count) }
            }
        }

        func transportIsLive(_ id: TransportID) async throws -> Bool {
            try await media.onLoop(0) { $0.entries[id] != nil }
        }

        /// Tracks a subscribe transport forwards.
        func consumers(of id: TransportID) async throws -> Int {
            try await media.onLoop(0) { loop in
                guard let entry = loop.entries[id], case .subscriber(let session) = entry.purpose else { return -1 }
                return session.consumers.count
            }
        }

        /// What the loop does when consent expires (RFC 7675): the transport closes.
        func expire(_ id: TransportID) async throws {
            try await media.onLoop(0) { $0.removeTransport(id, reason: "ICE consent expired") }
        }
    }

    /// One signaling connection: the room's Outbox, and everything it was sent.
    final class Connection: Sendable {
        let outbox: Outbox
        let inbox = Inbox()

        init() {
            let (stream, continuation) = AsyncStream<Outbox.Item>.makeStream()
            outbox = Outbox(continuation)
            Task { [inbox, outbox] in
                for await item in stream {
                    switch item {
                    case .text(let text, let bytes):
                        outbox.written(bytes)
                        if let message = try? ServerMessage.decode(text) {
                            await inbox.append(message)
                        } else {
                            Issue.record("the room sent an undecodable message: \(text.prefix(200))")
                        }
                    case .close:
                        outbox.markClosed()  // as the connection's writer does once its close frame left
                    }
                }
            }
        }
    }

    /// Messages received, in order; `next` waits for one that matches, up to a deadline.
    actor Inbox {
        private var messages: [ServerMessage] = []
        private var cursor = 0
        private var waiters: [CheckedContinuation<Void, Never>] = []

        func append(_ message: ServerMessage) {
            messages.append(message)
            wake()
        }

        private func wake() {
            let waiting = waiters
            waiters = []
            for waiter in waiting { waiter.resume() }
        }

        /// The next message after those already consumed that satisfies `match`; nil at the deadline.
        func next<T: Sendable>(timeout: Duration = .seconds(5), _ match: @Sendable (ServerMessage) -> T?) async -> T? {
            let deadline = ContinuousClock.now + timeout
            let timer = Task { [weak self] in
                try? await Task.sleep(until: deadline)
                await self?.wake()
            }
            defer { timer.cancel() }
            while true {
                while cursor < messages.count {
                    let message = messages[cursor]
                    cursor += 1
                    if let found = match(message) { return found }
                }
                if ContinuousClock.now >= deadline { return nil }
                await withCheckedContinuation { waiters.append($0) }
            }
        }

        var all: [ServerMessage] { messages }
    }

    static let offer: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("RelaisWireTests/Fixtures/SDP/aiortc-offer.sdp")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    /// An answer to the relay's subscribe offer: every section received, the client DTLS active.
    static func answer(to offer: String, ufrag: String) -> String {
        offer.split(whereSeparator: \.isNewline).map { raw -> String in
            let line = String(raw)
            if line.hasPrefix("a=ice-ufrag:") { return "a=ice-ufrag:\(ufrag)" }
            if line.hasPrefix("a=ice-pwd:") { return "a=ice-pwd:subscriberPasswordSubscriber1" }
            if line == "a=setup:actpass" { return "a=setup:active" }
            if line == "a=sendonly" { return "a=recvonly" }
            if line == "a=ice-lite" || line.hasPrefix("a=candidate:") || line == "a=end-of-candidates" { return "" }
            return line
        }.filter { !$0.isEmpty }.joined(separator: "\r\n") + "\r\n"
    }

    static func claims(_ name: String, _ role: Role, room: String) -> AccessClaims {
        AccessClaims(subject: name, displayName: name, role: role, room: room, expires: Date().addingTimeInterval(600))
    }

    static func join(_ room: Room, _ name: String, _ role: Role) async throws -> (id: String, connection: Connection) {
        let connection = Connection()
        let joined = try await room.join(claims: claims(name, role, room: room.name), outbox: connection.outbox, requestId: nil)
        return (joined.participantId, connection)
    }

    static func publish(_ room: Room, _ id: String, _ connection: Connection) async throws {
        try await room.publishOffer(participantId: id, body: SessionDescriptionBody(requestId: "publish", target: .publish, sdp: offer))
        let answered = await connection.inbox.next { if case .answer(let a) = $0, a.requestId == "publish" { a } else { nil } }
        #expect(answered != nil, "no publish answer")
    }

    static func subscribeOffer(_ connection: Connection) async -> SessionDescriptionBody? {
        await connection.inbox.next { if case .offer(let o) = $0, o.target == .subscribe { o } else { nil } }
    }

    static func ufrag(_ sdp: String) -> String? {
        sdp.split(whereSeparator: \.isNewline).first { $0.hasPrefix("a=ice-ufrag:") }.map { String($0.dropFirst("a=ice-ufrag:".count)) }
    }

    // MARK: Media state of rooms

    @Test func anEndedRoomLeavesNoMediaStateAndItsNameStartsAfresh() async throws {
        try await Relay.run { relay in
            let first = try await relay.registry.room(named: "ward-3")
            let (cart, cartConnection) = try await Self.join(first, "cart", .cart)
            try await Self.publish(first, cart, cartConnection)
            #expect(try await relay.loopRooms()[first.mediaKey]?.producers == 2)

            await first.leave(participantId: cart, outbox: cartConnection.outbox, requestId: nil)
            #expect(try await relay.loopRooms().isEmpty, "the ended room's media state stayed on its loop")

            // The name again: a new room, whose publisher's transport expires and who publishes again.
            let second = try await relay.registry.room(named: "ward-3")
            #expect(second !== first)
            let (cart2, connection2) = try await Self.join(second, "cart-2", .cart)
            try await Self.publish(second, cart2, connection2)
            let media = try #require(try await relay.loopRooms()[second.mediaKey])
            #expect(media.producers == 2, "producers of the ended room leaked into the new one")
            let expired = try #require(media.publishers.first)
            try await relay.expire(expired)
            // The room hears of it (its own event sink, not the ended room's): the tracks are withdrawn.
            let unpublished = await connection2.inbox.next { if case .trackUnpublished(let t) = $0 { t } else { nil } }
            #expect(unpublished?.participantId == cart2, "the transport's closing never reached the room")

            try await Self.publish(second, cart2, connection2)
            let again = try #require(try await relay.loopRooms()[second.mediaKey])
            #expect(again.publishers.count == 1)
            #expect(again.publishers.first != expired, "the publisher must get a new transport")
            #expect(try await relay.transportIsLive(try #require(again.publishers.first)))
            #expect(again.producers == 2)
            await second.leave(participantId: cart2, outbox: connection2.outbox, requestId: nil)
            #expect(try await relay.loopRooms().isEmpty)
        }
    }

    @Test func aPublisherWhoseTransportExpiredPublishesAgainWithoutLeaving() async throws {
        try await Relay.run { relay in
            let room = try await relay.registry.room(named: "ward-4")
            let (cart, cartConnection) = try await Self.join(room, "cart", .cart)
            let (_, expertConnection) = try await Self.join(room, "expert", .expert)
            try await Self.publish(room, cart, cartConnection)
            #expect(await Self.subscribeOffer(expertConnection) != nil)
            let expired = try #require(try await relay.loopRooms()[room.mediaKey]?.publishers.first)
            try await relay.expire(expired)
            let withdrawn = await expertConnection.inbox.next { if case .trackUnpublished(let t) = $0 { t } else { nil } }
            #expect(withdrawn?.participantId == cart)
            try await Self.publish(room, cart, cartConnection)
            let published = await expertConnection.inbox.next { if case .trackPublished(let t) = $0 { t.track } else { nil } }
            #expect(published?.participantId == cart, "the expert was not told of the republished tracks")
            let media = try #require(try await relay.loopRooms()[room.mediaKey])
            #expect(media.publishers.count == 1 && media.publishers.first != expired && media.producers == 2)
        }
    }

    // MARK: Subscribe transport

    @Test func aClosedSubscribeTransportGetsAFreshOfferAndItsAnswerANewTransport() async throws {
        try await Relay.run { relay in
            let room = try await relay.registry.room(named: "ward-5")
            let (cart, cartConnection) = try await Self.join(room, "cart", .cart)
            let (expert, expertConnection) = try await Self.join(room, "expert", .expert)
            try await Self.publish(room, cart, cartConnection)
            let first = try #require(await Self.subscribeOffer(expertConnection))
            try await room.subscribeAnswer(participantId: expert, body: SessionDescriptionBody(
                target: .subscribe, revision: first.revision, sdp: Self.answer(to: first.sdp, ufrag: "subA")))
            let subscribed = try #require(try await relay.loopRooms()[room.mediaKey]?.subscribers.first)
            #expect(try await relay.consumers(of: subscribed) == 2, "answer: \(Self.answer(to: first.sdp, ufrag: "subA"))")

            try await relay.expire(subscribed)
            let second = try #require(await Self.subscribeOffer(expertConnection), "no new subscribe offer after the transport closed")
            #expect((second.revision ?? 0) > (first.revision ?? 0))
            #expect(Self.ufrag(second.sdp) != nil && Self.ufrag(second.sdp) != Self.ufrag(first.sdp), "a new transport needs new ICE credentials")
            try await room.subscribeAnswer(participantId: expert, body: SessionDescriptionBody(
                target: .subscribe, revision: second.revision, sdp: Self.answer(to: second.sdp, ufrag: "subB")))
            let media = try #require(try await relay.loopRooms()[room.mediaKey])
            #expect(media.subscribers.count == 1)
            let renewed = try #require(media.subscribers.first)
            #expect(renewed != subscribed)
            #expect(try await relay.transportIsLive(renewed))
            #expect(try await relay.consumers(of: renewed) == 2, "the new subscribe transport must carry the room's two tracks")
        }
    }

    // MARK: Ordered media events

    /// The offer with a fresh DTLS identity: the relay must replace the publish transport.
    static func offerWithNewIdentity() -> String {
        let hex = (0..<32).map { _ in String(format: "%02X", UInt8.random(in: 0...255)) }.joined(separator: ":")
        return offer.split(whereSeparator: \.isNewline).compactMap { line in
            guard line.hasPrefix("a=fingerprint:") else { return String(line) }
            return line.hasPrefix("a=fingerprint:sha-256 ") ? "a=fingerprint:sha-256 \(hex)" : nil
        }.joined(separator: "\r\n") + "\r\n"
    }

    /// A publisher re-offers with a new DTLS identity: the relay closes the old transport while it
    /// opens the new one. The old transport's closing must never be taken for the publisher's media
    /// going away (its tracks unpublished, then published again), not once in 100 re-offers; and
    /// the room's events stay in order, so the last transport's closing is heard after all of them.
    @Test func aPublisherReofferingWhileItsOldTransportClosesNeverLosesItsTracks() async throws {
        try await Relay.run { relay in
            let room = try await relay.registry.room(named: "ward-9")
            let (cart, cartConnection) = try await Self.join(room, "cart", .cart)
            let (_, expertConnection) = try await Self.join(room, "expert", .expert)
            try await Self.publish(room, cart, cartConnection)
            var previous = try #require(try await relay.loopRooms()[room.mediaKey]?.publishers.first)
            for round in 0..<100 {
                let requestId = "reoffer-\(round)"
                try await room.publishOffer(participantId: cart, body: SessionDescriptionBody(
                    requestId: requestId, target: .publish, sdp: Self.offerWithNewIdentity()))
                let answered = await cartConnection.inbox.next { if case .answer(let a) = $0, a.requestId == requestId { a } else { nil } }
                #expect(answered != nil, "no answer to re-offer \(round)")
                let media = try #require(try await relay.loopRooms()[room.mediaKey])
                #expect(media.publishers.count == 1 && media.publishers.first != previous && media.producers == 2,
                        "round \(round): publish transports \(media.publishers) (previous \(previous)), \(media.producers) producers")
                previous = try #require(media.publishers.first)
            }
            // The current transport expires: the expert hears the tracks go, after everything before.
            try await relay.expire(previous)
            _ = await expertConnection.inbox.next { if case .trackUnpublished(let t) = $0, t.participantId == cart { t } else { nil } }
            let announcements = await expertConnection.inbox.all.compactMap { message -> String? in
                switch message {
                case .trackPublished(let t) where t.track.participantId == cart: "published \(t.track.trackId)"
                case .trackUnpublished(let t) where t.participantId == cart: "unpublished \(t.trackId)"
                default: nil
                }
            }
            #expect(announcements.filter { $0.hasPrefix("published") }.count == 2, "\(announcements)")
            #expect(announcements.filter { $0.hasPrefix("unpublished") }.count <= 2, "\(announcements)")
            #expect(announcements.prefix(2).allSatisfy { $0.hasPrefix("published") }, "\(announcements)")
        }
    }

    // MARK: Camera control across a resume and the end of a room

    static let camera = CameraDescription(cameraId: "main", name: "PTZ", capabilities: CameraCapabilities(
        continuousPanTilt: true, continuousZoom: true, absolutePosition: true, relativePosition: true, focus: true, presets: 4,
        pan: AxisRange(min: -170, max: 170), tilt: AxisRange(min: -30, max: 90), zoom: AxisRange(min: 1, max: 12)))

    /// A cart with a camera and an expert holding its floor, the camera in continuous motion.
    static func movingCamera(_ room: Room) async throws -> (cart: String, cartConnection: Connection, expert: String, expertConnection: Connection) {
        let (cart, cartConnection) = try await join(room, "cart", .cart)
        let (expert, expertConnection) = try await join(room, "expert", .expert)
        try await room.camera(.cameras(CamerasBody(requestId: "cameras", cameras: [camera])), from: cart)
        try await room.camera(.floorRequest(FloorBody(requestId: "floor", cameraId: "main")), from: expert)
        try await room.camera(.cameraCommand(CameraCommandBody(requestId: "m", cameraId: "main", commandId: "m", command: .move(pan: 0.4, tilt: 0, zoom: 0))), from: expert)
        let move = await cartConnection.inbox.next { if case .cameraCommand(let c) = $0 { c } else { nil } }
        #expect(move?.command == .move(pan: 0.4, tilt: 0, zoom: 0))
        return (cart, cartConnection, expert, expertConnection)
    }

    @Test func cameraControlSurvivesAResumeOfTheExpertAndOfTheCart() async throws {
        try await Relay.run { relay in
            let room = try await relay.registry.room(named: "ward-6")
            let (cart, cartConnection, expert, expertConnection) = try await Self.movingCamera(room)

            // The expert's socket drops: the relay stops its camera; then it resumes.
            await room.detach(participantId: expert, outbox: expertConnection.outbox)
            let stop = await cartConnection.inbox.next { if case .cameraCommand(let c) = $0, c.command == .stop { c } else { nil } }
            #expect(stop?.from == "relay")
            let resumedExpert = Connection()
            _ = try await room.resume(participantId: expert, outbox: resumedExpert.outbox, requestId: nil, restartIce: false)
            let told = await resumedExpert.inbox.next { if case .camerasAvailable(let c) = $0 { c } else { nil } }
            #expect(told?.cameras.map(\.cameraId) == ["main"], "the resumed expert is told the cameras")
            try await room.camera(.floorRequest(FloorBody(requestId: "floor-2", cameraId: "main")), from: expert)
            let floor = await resumedExpert.inbox.next { message -> String? in
                if case .floor(let f) = message, f.controller == expert { return "granted" }
                if case .error(let e) = message { return e.code.rawValue }
                return nil
            }
            #expect(floor == "granted")
            try await room.camera(.cameraCommand(CameraCommandBody(requestId: "a", cameraId: "main", commandId: "a", command: .absolute(pan: 30, tilt: 10, zoom: 2))), from: expert)
            let absolute = try #require(await cartConnection.inbox.next { if case .cameraCommand(let c) = $0, c.command != .stop { c } else { nil } })
            try await room.camera(.cameraAck(CameraAckBody(cameraId: "main", commandId: absolute.commandId, result: .ok,
                                                           position: CameraPosition(pan: 30, tilt: 10, zoom: 2))), from: cart)
            let ack = await resumedExpert.inbox.next { if case .cameraAck(let a) = $0 { a } else { nil } }
            #expect(ack?.commandId == "a" && ack?.position == CameraPosition(pan: 30, tilt: 10, zoom: 2))

            // The cart's socket drops: its camera is withdrawn; after its resume it advertises again.
            await room.detach(participantId: cart, outbox: cartConnection.outbox)
            let resumedCart = Connection()
            _ = try await room.resume(participantId: cart, outbox: resumedCart.outbox, requestId: nil, restartIce: false)
            try await room.camera(.cameras(CamerasBody(requestId: "cameras-2", cameras: [Self.camera])), from: cart)
            let advertised = await resumedExpert.inbox.next { message -> String? in
                if case .camerasAvailable(let c) = message, c.participantId == cart, !c.cameras.isEmpty { return "advertised" }
                return nil
            }
            #expect(advertised == "advertised")
            let cartErrors = await resumedCart.inbox.all.compactMap { if case .error(let e) = $0 { e.code } else { nil } }
            #expect(cartErrors.isEmpty, "the resumed cart was refused: \(cartErrors)")
        }
    }

    @Test func anOperatorEndingTheConsultationStopsAMovingCameraBeforeTheClose() async throws {
        try await Relay.run { relay in
            let room = try await relay.registry.room(named: "ward-7")
            let (_, cartConnection, _, _) = try await Self.movingCamera(room)
            _ = await room.endByOperator(operator: "night-operator")
            let stop = await cartConnection.inbox.next { message -> String? in
                if case .cameraCommand(let c) = message, c.command == .stop { return "stop from \(c.from ?? "-")" }
                if case .left = message { return "left first" }
                return nil
            }
            #expect(stop == "stop from relay")
        }
    }

    @Test func aServerShutdownStopsAMovingCameraBeforeTheClose() async throws {
        try await Relay.run(stopping: .mediaOnly) { relay in
            let room = try await relay.registry.room(named: "ward-8")
            let (_, cartConnection, _, _) = try await Self.movingCamera(room)
            await relay.registry.shutdown()
            let stop = await cartConnection.inbox.next { message -> String? in
                if case .cameraCommand(let c) = message, c.command == .stop { return "stop from \(c.from ?? "-")" }
                if case .left = message { return "left first" }
                return nil
            }
            #expect(stop == "stop from relay")
            #expect(try await relay.loopRooms().isEmpty)
        }
    }
}
