public import RelaisSignaling
public import RelaisWire

/// The relay's camera-control rules for one room, sans-IO: participants, messages and time in;
/// messages to send, refusals and audit records out (`CameraOutput`). The server's Room actor
/// owns one, feeds it every camera message, departures and ticks at `nextDeadline`, and carries
/// out the outputs in order. It never reads a clock.
///
/// Rules (beyond Signaling/PROTOCOL.md):
/// - Only carts advertise cameras. A camera id is unique in the room: a cart advertising an id
///   another cart already advertised is refused `invalid_command` (whole advertisement). A new
///   advertisement replaces the cart's list; cameras missing from it lose their floor.
/// - Carts never command a camera (their own included: they drive it locally). A cart grants and
///   revokes the floor of its own cameras (under either policy) and acknowledges their commands.
/// - Experts command a camera only while they hold its floor; observers never.
/// - Continuous moves are coalesced per camera (latest wins, at most `maxMovesPerSecond`
///   forwarded); every other command (and a move with all velocities zero, which is a stop) is
///   forwarded at once and discards the pending move.
/// - Deadman: while a camera is in continuous motion, the controller must send a move every
///   `deadman`; otherwise, and when the controller leaves, releases, is revoked or replaced, the
///   relay sends `stop` (from `relay`). Only `stop` (or a zero move) ends the motion: a command
///   such as `absolute` or `focus` sent during a continuous move keeps the deadman armed, since
///   the relay cannot know whether the cart abandons the continuous move for it.
/// - A leaving cart's cameras are gone: `camerasAvailable` with an empty list is broadcast, then
///   `floor` with no controller for each of its cameras that had a controller or requests.
/// - Floors: a release leaves the floor free (no automatic hand-over to the first waiting
///   expert: it may no longer be looking at the camera); `requested` stays as information. A
///   grant names an expert in the room (else `invalid_command`) and replaces any controller
///   (stopping its motion). A revoke takes the floor from whoever holds it, whatever
///   `participantId` it names (a safety action must not fail on a race).
/// - Acks: the cart acknowledges the server's command id; the controller receives its own. A move
///   replaced while held back is never sent, so it gets no ack. Acks of the relay's own stops are
///   audited, not forwarded.
/// - Every message handled here (commands, floor operations, advertisements, acks) leaves an
///   audit record, accepted or refused.
public struct CameraControl: Sendable {
    public enum FloorPolicy: String, Sendable, Codable, CaseIterable {
        /// The first expert to request a free floor gets it; requests for a held floor are refused
        /// `floor_busy` and recorded in `requested`. Releasing does not hand the floor on by itself.
        case firstExpert
        /// Requests are forwarded to the owning cart (`floorRequested`) and recorded; the cart answers
        /// with `floorGrant` or ignores them.
        case cartGrants
    }

    public struct Configuration: Sendable {
        public var policy: FloorPolicy
        /// A camera in continuous motion is stopped when its controller sends no move for this long.
        public var deadman: Duration
        /// Continuous moves forwarded per camera per second, at most (values < 1 count as 1).
        public var maxMovesPerSecond: Int
        /// Audit records kept in `auditLog` (the newest ones).
        public var auditCapacity: Int
        /// Commands awaiting a cart's acknowledgement that are remembered, at most (the oldest are
        /// forgotten; their late acks are dropped and audited).
        public var maxInFlight: Int
        /// Cameras one cart may advertise.
        public var maxCamerasPerCart: Int

        public init(policy: FloorPolicy = .firstExpert, deadman: Duration = .milliseconds(500), maxMovesPerSecond: Int = 20,
                    auditCapacity: Int = 10_000, maxInFlight: Int = 1024, maxCamerasPerCart: Int = 16) {
            self.policy = policy
            self.deadman = deadman
            self.maxMovesPerSecond = maxMovesPerSecond
            self.auditCapacity = auditCapacity
            self.maxInFlight = maxInFlight
            self.maxCamerasPerCart = maxCamerasPerCart
        }
    }

    /// The `from` of commands the relay sends itself (deadman stops).
    public static let relayId = "relay"

    struct Member: Sendable {
        var role: Role
        var subject: String
    }

    struct PendingMove: Sendable {
        var command: CameraCommand
        var controller: String
        var commandId: String
    }

    struct CameraState: Sendable {
        var cartId: String
        var description: CameraDescription
        var controller: String?
        var requested: [String] = []
        /// The last move forwarded to the cart was a non-zero one, and no stop followed.
        var moving = false
        /// When the controller's last non-zero move arrived (the deadman's reference).
        var lastMoveAt: Instant?
        /// When the last non-zero move was forwarded (the rate limit's reference).
        var lastMoveSentAt: Instant?
        var pending: PendingMove?

        var inMotion: Bool { moving || pending != nil }

        var floorState: FloorStateBody {
            FloorStateBody(cameraId: description.cameraId, cartId: cartId, controller: controller, requested: requested)
        }
    }

    struct InFlight: Sendable {
        var cameraId: String
        /// nil for the relay's own commands.
        var controller: String?
        var commandId: String
        var sentAt: Instant
    }

    public let configuration: Configuration
    private let moveInterval: Duration
    private var members: [String: Member] = [:]
    private var cameras: [String: CameraState] = [:]
    /// Camera ids in advertisement order (deterministic output order for ticks and joins).
    private var cameraOrder: [String] = []
    /// Cart id -> its camera ids, in its advertisement's order.
    private var cartCameras: [String: [String]] = [:]
    /// Server command number -> the command it stands for ("c-<number>").
    private var inFlight: [UInt64: InFlight] = [:]
    private var commandCounter: UInt64 = 0
    private var audit: AuditRing

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.moveInterval = .seconds(1) / max(1, configuration.maxMovesPerSecond)
        self.audit = AuditRing(capacity: configuration.auditCapacity)
    }

    // MARK: Reading

    /// The newest `auditCapacity` audit records, oldest first.
    public var auditLog: [CameraAuditRecord] { audit.records }

    /// Every advertised camera, in advertisement order.
    public var allCameras: [CameraDescription] { cameraOrder.compactMap { cameras[$0]?.description } }

    /// Who controls a camera and who waits for it; nil for an unknown camera.
    public func floorState(cameraId: String) -> FloorStateBody? { cameras[cameraId]?.floorState }

    /// Every camera's floor, in advertisement order.
    public var allCameraStates: [FloorStateBody] { cameraOrder.compactMap { cameras[$0]?.floorState } }

    /// Whether the camera is moving or has a move waiting for its slot (for the operators' view).
    public func isMoving(cameraId: String) -> Bool { cameras[cameraId]?.inMotion ?? false }

    /// Commands sent to carts and not acknowledged yet (bounded by `maxInFlight`).
    public var inFlightCount: Int { inFlight.count }

    /// When `tick` must run next: a coalesced move's slot or a deadman expiry; nil when nothing is due.
    public var nextDeadline: Instant? {
        var earliest: Instant?
        for id in cameraOrder {
            guard let camera = cameras[id] else { continue }
            if camera.pending != nil, let sent = camera.lastMoveSentAt {
                earliest = Self.earlier(earliest, sent + moveInterval)
            }
            if camera.inMotion, let last = camera.lastMoveAt {
                earliest = Self.earlier(earliest, last + configuration.deadman)
            }
        }
        return earliest
    }

    private static func earlier(_ a: Instant?, _ b: Instant) -> Instant { a.map { Swift.min($0, b) } ?? b }

    // MARK: Participants

    /// A participant joined the room. Returns what it must be told: every cart's cameras and every
    /// camera's floor. The Room calls `leave` before reusing a participant id.
    @discardableResult
    public mutating func join(participantId: String, role: Role, subject: String) -> [CameraOutput] {
        members[participantId] = Member(role: role, subject: subject)
        var outputs: [CameraOutput] = []
        var seenCarts: Set<String> = []
        for id in cameraOrder {
            guard let camera = cameras[id], camera.cartId != participantId else { continue }
            if seenCarts.insert(camera.cartId).inserted {
                let list = (cartCameras[camera.cartId] ?? []).compactMap { cameras[$0]?.description }
                outputs.append(.send(to: participantId, .camerasAvailable(CamerasAvailableBody(participantId: camera.cartId, cameras: list))))
            }
        }
        for id in cameraOrder {
            guard let camera = cameras[id] else { continue }
            outputs.append(.send(to: participantId, .floor(camera.floorState)))
        }
        return outputs
    }

    /// A participant left or was disconnected. A controller's moving camera is stopped by the relay
    /// and its floor freed; a cart's cameras disappear; the participant leaves every request queue.
    public mutating func leave(participantId: String, now: Instant) -> [CameraOutput] {
        guard let member = members[participantId] else { return [] }
        var outputs: [CameraOutput] = []
        for id in cameraOrder {
            guard var camera = cameras[id], camera.cartId != participantId else { continue }
            var changed = false
            if camera.controller == participantId {
                relayStop(&camera, cause: .controllerLeft, controller: participantId, member: member, now: now, into: &outputs)
                camera.controller = nil
                changed = true
            }
            if let index = camera.requested.firstIndex(of: participantId) {
                camera.requested.remove(at: index)
                changed = true
            }
            cameras[id] = camera
            if changed { outputs.append(.broadcast(.floor(camera.floorState), except: participantId)) }
        }
        if cartCameras[participantId] != nil {
            outputs.append(.broadcast(.camerasAvailable(CamerasAvailableBody(participantId: participantId, cameras: [])), except: participantId))
            removeCameras(of: participantId, keeping: [], into: &outputs, except: participantId)
        }
        members[participantId] = nil
        return outputs
    }

    /// The room is closing (an operator ended the consultation, or the server is shutting down):
    /// every camera in motion gets the relay's `stop`, audited under `cause`. The owner carries
    /// these outputs out while the carts' connections are still open, before it closes them, since
    /// a departure processed after the close has nobody left to deliver the stop to.
    public mutating func stopAll(cause: RelayStopCause, now: Instant) -> [CameraOutput] {
        var outputs: [CameraOutput] = []
        for id in cameraOrder {
            guard var camera = cameras[id], camera.inMotion else { continue }
            let controller = camera.controller ?? camera.pending?.controller ?? Self.relayId
            relayStop(&camera, cause: cause, controller: controller, member: members[controller], now: now, into: &outputs)
            cameras[id] = camera
        }
        return outputs
    }

    // MARK: Messages

    /// A camera message from a joined participant. Other messages produce no output.
    public mutating func handle(_ message: ClientMessage, from participantId: String, now: Instant) -> [CameraOutput] {
        var outputs: [CameraOutput] = []
        outputs.reserveCapacity(2)
        guard let member = members[participantId] else {
            let cameraId: String? =
                switch message {
                case .floorRequest(let b), .floorRelease(let b), .floorGrant(let b), .floorRevoke(let b): b.cameraId
                case .cameraCommand(let b): b.cameraId
                case .cameraAck(let b): b.cameraId
                default: nil
                }
            let kind: String = if case .cameraCommand(let b) = message { b.command.kind } else { message.type }
            refuse(participantId, member: nil, requestId: message.requestId, cameraId: cameraId, kind: kind, commandId: nil,
                   SignalingError(.notJoined, "join the room first"), now: now, into: &outputs)
            return outputs
        }
        switch message {
        case .cameras(let body): advertise(body, from: participantId, member: member, now: now, into: &outputs)
        case .floorRequest(let body): floorRequest(body, from: participantId, member: member, now: now, into: &outputs)
        case .floorRelease(let body): floorRelease(body, from: participantId, member: member, now: now, into: &outputs)
        case .floorGrant(let body): floorGrant(body, from: participantId, member: member, now: now, into: &outputs)
        case .floorRevoke(let body): floorRevoke(body, from: participantId, member: member, now: now, into: &outputs)
        case .cameraCommand(let body): command(body, from: participantId, member: member, now: now, into: &outputs)
        case .cameraAck(let body): ack(body, from: participantId, member: member, now: now, into: &outputs)
        case .join, .resume, .offer, .answer, .candidate, .ping, .leave, .selectLayer: break
        }
        return outputs
    }

    /// Sends coalesced moves whose slot has come and stops cameras whose controller went silent.
    public mutating func tick(now: Instant) -> [CameraOutput] {
        var outputs: [CameraOutput] = []
        for id in cameraOrder {
            guard var camera = cameras[id] else { continue }
            // Deadman first: a controller silent for `deadman` gets no more moves sent for it.
            if camera.inMotion, let last = camera.lastMoveAt, now >= last + configuration.deadman {
                let controller = camera.controller ?? camera.pending?.controller ?? Self.relayId
                relayStop(&camera, cause: .silence, controller: controller, member: members[controller], now: now, into: &outputs)
            } else if let pending = camera.pending, let sent = camera.lastMoveSentAt, now >= sent + moveInterval {
                camera.pending = nil
                camera.lastMoveSentAt = now
                camera.moving = true
                let member = members[pending.controller]
                let serverId = forward(pending.command, camera: camera, from: pending.controller, commandId: pending.commandId,
                                       now: now, into: &outputs)
                record(now, pending.controller, member, cameraId: id, kind: pending.command.kind, commandId: pending.commandId,
                       .forwarded(commandId: serverId), into: &outputs)
            }
            cameras[id] = camera
        }
        return outputs
    }

    // MARK: Advertisement

    private mutating func advertise(_ body: CamerasBody, from cartId: String, member: Member, now: Instant, into outputs: inout [CameraOutput]) {
        func refuse(_ error: SignalingError) {
            self.refuse(cartId, member: member, requestId: body.requestId, cameraId: nil, kind: "cameras", commandId: nil, error,
                        now: now, into: &outputs)
        }
        guard member.role == .cart else { return refuse(SignalingError(.notController, "only a cart advertises cameras")) }
        guard body.cameras.count <= configuration.maxCamerasPerCart else {
            return refuse(SignalingError(.invalidCommand, "cameras: at most \(configuration.maxCamerasPerCart) cameras per cart"))
        }
        var ids: Set<String> = []
        for camera in body.cameras {
            if let error = CameraValidation.check(camera) { return refuse(error) }
            guard ids.insert(camera.cameraId).inserted else {
                return refuse(SignalingError(.invalidCommand, "cameras: cameraId \"\(camera.cameraId)\" appears twice"))
            }
            if let existing = cameras[camera.cameraId], existing.cartId != cartId {
                return refuse(SignalingError(.invalidCommand, "cameras: cameraId \"\(camera.cameraId)\" is another cart's camera in this room"))
            }
        }
        removeCameras(of: cartId, keeping: ids, into: &outputs, except: nil)
        for camera in body.cameras {
            if var state = cameras[camera.cameraId] {
                if state.description != camera {
                    // A held-back move was checked against the old capabilities: never send it.
                    state.pending = nil
                    state.description = camera
                }
                cameras[camera.cameraId] = state
            } else {
                cameras[camera.cameraId] = CameraState(cartId: cartId, description: camera)
                cameraOrder.append(camera.cameraId)
            }
        }
        cartCameras[cartId] = body.cameras.map(\.cameraId)
        outputs.append(.broadcast(.camerasAvailable(CamerasAvailableBody(participantId: cartId, cameras: body.cameras)), except: cartId))
        record(now, cartId, member, cameraId: nil, kind: "cameras", commandId: nil, .accepted, into: &outputs)
    }

    /// Forgets the cart's cameras not in `keeping`; those that had a controller or requests get a
    /// `floor` with no controller. No stop is sent: the cart dropped (or took away) the camera.
    private mutating func removeCameras(of cartId: String, keeping: Set<String>, into outputs: inout [CameraOutput], except: String?) {
        guard let ids = cartCameras[cartId] else { return }
        for id in ids where !keeping.contains(id) {
            guard let camera = cameras.removeValue(forKey: id) else { continue }
            cameraOrder.removeAll { $0 == id }
            inFlight = inFlight.filter { $0.value.cameraId != id }
            if camera.controller != nil || !camera.requested.isEmpty {
                outputs.append(.broadcast(.floor(FloorStateBody(cameraId: id, cartId: cartId, controller: nil, requested: [])), except: except))
            }
        }
        cartCameras[cartId] = ids.filter { keeping.contains($0) }
        if keeping.isEmpty { cartCameras[cartId] = nil }
    }

    // MARK: Floor

    private mutating func floorRequest(_ body: FloorBody, from id: String, member: Member, now: Instant, into outputs: inout [CameraOutput]) {
        let kind = "floorRequest"
        guard member.role == .expert else {
            return refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                          SignalingError(.notController, "only experts control cameras"), now: now, into: &outputs)
        }
        guard var camera = cameras[body.cameraId] else {
            return refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                          SignalingError(.cameraUnknown, "no camera \"\(body.cameraId.prefix(64))\" in this room"), now: now, into: &outputs)
        }
        if camera.controller == id {
            outputs.append(.send(to: id, .floor(camera.floorState)))
            return record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: nil, .accepted, into: &outputs)
        }
        switch configuration.policy {
        case .firstExpert:
            if camera.controller == nil {
                camera.controller = id
                camera.requested.removeAll { $0 == id }
                cameras[body.cameraId] = camera
                outputs.append(.broadcast(.floor(camera.floorState), except: nil))
                record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: nil, .accepted, into: &outputs)
            } else {
                let added = !camera.requested.contains(id)
                if added { camera.requested.append(id) }
                cameras[body.cameraId] = camera
                refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                       SignalingError(.floorBusy, "\(camera.controller ?? "") controls this camera"), now: now, into: &outputs)
                if added { outputs.append(.broadcast(.floor(camera.floorState), except: nil)) }
            }
        case .cartGrants:
            guard !camera.requested.contains(id) else {
                // Already forwarded to the cart: not again (the cart decides once per request).
                return record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: nil, .accepted, into: &outputs)
            }
            camera.requested.append(id)
            cameras[body.cameraId] = camera
            outputs.append(.send(to: camera.cartId, .floorRequested(FloorBody(cameraId: body.cameraId, participantId: id))))
            outputs.append(.broadcast(.floor(camera.floorState), except: nil))
            record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: nil, .accepted, into: &outputs)
        }
    }

    private mutating func floorRelease(_ body: FloorBody, from id: String, member: Member, now: Instant, into outputs: inout [CameraOutput]) {
        let kind = "floorRelease"
        guard var camera = cameras[body.cameraId] else {
            return refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                          SignalingError(.cameraUnknown, "no camera \"\(body.cameraId.prefix(64))\" in this room"), now: now, into: &outputs)
        }
        guard camera.controller == id else {
            return refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                          SignalingError(.notController, "only the controller releases the floor"), now: now, into: &outputs)
        }
        relayStop(&camera, cause: .floorReleased, controller: id, member: member, now: now, into: &outputs)
        camera.controller = nil
        cameras[body.cameraId] = camera
        outputs.append(.broadcast(.floor(camera.floorState), except: nil))
        record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: nil, .accepted, into: &outputs)
    }

    private mutating func floorGrant(_ body: FloorBody, from id: String, member: Member, now: Instant, into outputs: inout [CameraOutput]) {
        let kind = "floorGrant"
        guard var camera = ownCamera(body, kind: kind, from: id, member: member, now: now, into: &outputs) else { return }
        guard let grantee = body.participantId, members[grantee]?.role == .expert else {
            return refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                          SignalingError(.invalidCommand, "floorGrant: participantId must name an expert in this room"), now: now, into: &outputs)
        }
        if camera.controller != grantee {
            if let previous = camera.controller {
                relayStop(&camera, cause: .floorReassigned, controller: previous, member: members[previous], now: now, into: &outputs)
            }
            camera.controller = grantee
        }
        camera.requested.removeAll { $0 == grantee }
        cameras[body.cameraId] = camera
        outputs.append(.broadcast(.floor(camera.floorState), except: nil))
        record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: nil, .accepted, into: &outputs)
    }

    /// Takes the floor from whoever holds it (a `participantId` in the message is not checked: a
    /// revoke is a safety action and must not fail on a race).
    private mutating func floorRevoke(_ body: FloorBody, from id: String, member: Member, now: Instant, into outputs: inout [CameraOutput]) {
        let kind = "floorRevoke"
        guard var camera = ownCamera(body, kind: kind, from: id, member: member, now: now, into: &outputs) else { return }
        if let previous = camera.controller {
            relayStop(&camera, cause: .floorRevoked, controller: previous, member: members[previous], now: now, into: &outputs)
            camera.controller = nil
        }
        cameras[body.cameraId] = camera
        outputs.append(.broadcast(.floor(camera.floorState), except: nil))
        record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: nil, .accepted, into: &outputs)
    }

    /// The camera of a grant or revoke, when the sender is the cart owning it.
    private mutating func ownCamera(_ body: FloorBody, kind: String, from id: String, member: Member, now: Instant,
                                    into outputs: inout [CameraOutput]) -> CameraState? {
        guard member.role == .cart else {
            refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                   SignalingError(.notController, "only the cart owning the camera grants or revokes its floor"), now: now, into: &outputs)
            return nil
        }
        guard let camera = cameras[body.cameraId] else {
            refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                   SignalingError(.cameraUnknown, "no camera \"\(body.cameraId.prefix(64))\" in this room"), now: now, into: &outputs)
            return nil
        }
        guard camera.cartId == id else {
            refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: nil,
                   SignalingError(.notController, "this camera belongs to another cart"), now: now, into: &outputs)
            return nil
        }
        return camera
    }

    // MARK: Commands

    private mutating func command(_ body: CameraCommandBody, from id: String, member: Member, now: Instant, into outputs: inout [CameraOutput]) {
        let kind = body.command.kind
        let commandId: String? = CameraValidation.isValidIdentifier(body.commandId) ? body.commandId : nil
        func refuse(_ error: SignalingError) {
            self.refuse(id, member: member, requestId: body.requestId, cameraId: body.cameraId, kind: kind, commandId: commandId,
                        error, now: now, into: &outputs)
        }
        switch member.role {
        case .observer: return refuse(SignalingError(.notController, "observers do not control cameras"))
        case .cart: return refuse(SignalingError(.notController, "carts do not command cameras through the relay"))
        case .expert: break
        }
        guard let commandId else {
            return refuse(SignalingError(.invalidCommand, "commandId must be 1...\(CameraValidation.maxIdentifierBytes) bytes"))
        }
        guard var camera = cameras[body.cameraId] else {
            return refuse(SignalingError(.cameraUnknown, "no camera \"\(body.cameraId.prefix(64))\" in this room"))
        }
        guard camera.controller == id else {
            return refuse(SignalingError(.notController, "request the camera's floor first"))
        }
        if let error = CameraValidation.check(body.command, against: camera.description.capabilities) { return refuse(error) }

        if CameraValidation.isMotion(body.command) {
            camera.lastMoveAt = now
            if let sent = camera.lastMoveSentAt, now < sent + moveInterval {
                camera.pending = PendingMove(command: body.command, controller: id, commandId: commandId)
                cameras[body.cameraId] = camera
                return record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: commandId, .coalesced, into: &outputs)
            }
            camera.lastMoveSentAt = now
            camera.moving = true
        } else if CameraValidation.isStop(body.command) {
            camera.moving = false
            camera.lastMoveAt = nil
        }
        // Anything but a coalesced move goes out now and discards the held-back move.
        camera.pending = nil
        cameras[body.cameraId] = camera
        let serverId = forward(body.command, camera: camera, from: id, commandId: commandId, now: now, into: &outputs)
        record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: commandId, .forwarded(commandId: serverId), into: &outputs)
    }

    /// Appends the `cameraCommand` to the cart and remembers it for the ack; returns the server's command id.
    private mutating func forward(_ command: CameraCommand, camera: CameraState, from controller: String?, commandId: String,
                                  now: Instant, into outputs: inout [CameraOutput]) -> String {
        commandCounter += 1
        let number = commandCounter
        let serverId = "c-\(number)"
        inFlight[number] = InFlight(cameraId: camera.description.cameraId, controller: controller, commandId: commandId, sentAt: now)
        let limit = UInt64(max(1, configuration.maxInFlight))
        if number > limit { inFlight[number - limit] = nil }
        outputs.append(.send(to: camera.cartId, .cameraCommand(CameraCommandBody(
            cameraId: camera.description.cameraId, commandId: serverId, command: command, from: controller ?? Self.relayId))))
        return serverId
    }

    /// The relay stops a camera in motion itself (deadman): the held-back move is discarded and a
    /// `stop` from `relay` goes to the cart. Nothing happens when the camera is not in motion.
    private mutating func relayStop(_ camera: inout CameraState, cause: RelayStopCause, controller: String, member: Member?,
                                    now: Instant, into outputs: inout [CameraOutput]) {
        guard camera.inMotion else { return }
        camera.pending = nil
        camera.moving = false
        camera.lastMoveAt = nil
        let serverId = forward(.stop, camera: camera, from: nil, commandId: "", now: now, into: &outputs)
        record(now, controller, member, cameraId: camera.description.cameraId, kind: CameraCommand.stop.kind, commandId: nil,
               .deadmanStop(cause, commandId: serverId), into: &outputs)
    }

    // MARK: Acknowledgements

    private mutating func ack(_ body: CameraAckBody, from id: String, member: Member, now: Instant, into outputs: inout [CameraOutput]) {
        let kind = "cameraAck"
        let commandId = String(body.commandId.prefix(64))
        guard member.role == .cart else {
            return refuse(id, member: member, requestId: nil, cameraId: body.cameraId, kind: kind, commandId: commandId,
                          SignalingError(.notController, "only the cart owning the camera acknowledges its commands"), now: now, into: &outputs)
        }
        guard let number = Self.serverCommandNumber(body.commandId), let entry = inFlight[number] else {
            return record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: commandId, .ackDropped, into: &outputs)
        }
        guard let camera = cameras[entry.cameraId], camera.cartId == id else {
            return refuse(id, member: member, requestId: nil, cameraId: body.cameraId, kind: kind, commandId: commandId,
                          SignalingError(.notController, "this command was sent to another cart"), now: now, into: &outputs)
        }
        guard body.cameraId == entry.cameraId else {
            return refuse(id, member: member, requestId: nil, cameraId: body.cameraId, kind: kind, commandId: commandId,
                          SignalingError(.invalidCommand, "cameraAck: command \(commandId) was for camera \(entry.cameraId)"), now: now, into: &outputs)
        }
        inFlight[number] = nil
        record(now, id, member, cameraId: body.cameraId, kind: kind, commandId: commandId, .ack(body.result), into: &outputs)
        if let controller = entry.controller, members[controller] != nil {
            var forwarded = body
            forwarded.commandId = entry.commandId
            outputs.append(.send(to: controller, .cameraAck(forwarded)))
        }
    }

    static func serverCommandNumber(_ commandId: String) -> UInt64? {
        guard commandId.hasPrefix("c-") else { return nil }
        return UInt64(commandId.dropFirst(2))
    }

    // MARK: Refusals and audit

    private mutating func refuse(_ id: String, member: Member?, requestId: String?, cameraId: String?, kind: String, commandId: String?,
                                 _ error: SignalingError, now: Instant, into outputs: inout [CameraOutput]) {
        outputs.append(.refuse(to: id, requestId: requestId, error))
        record(now, id, member, cameraId: cameraId.map { String($0.prefix(64)) }, kind: kind, commandId: commandId,
               .refused(error.code), into: &outputs)
    }

    private mutating func record(_ now: Instant, _ id: String, _ member: Member?, cameraId: String?, kind: String, commandId: String?,
                                 _ outcome: CameraAuditOutcome, into outputs: inout [CameraOutput]) {
        let record = CameraAuditRecord(time: now, participantId: id, subject: member?.subject, role: member?.role, cameraId: cameraId,
                                       kind: kind, commandId: commandId, outcome: outcome)
        audit.append(record)
        outputs.append(.audit(record))
    }
}
