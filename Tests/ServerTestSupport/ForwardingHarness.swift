import Logging
public import NIOCore
import NIOEmbedded
import RelaisNegotiation
import RelaisNIO
import RelaisSFU
public import RelaisServer
public import RelaisTransport
public import RelaisWire

/// A media loop with one consultation room, its publisher and subscribers connected in memory
/// (real ICE, DTLS and SRTP, driven by `ClientTransport`s), for benchmarks and the media path's
/// hostile-input tests. It lives outside `RelaisServer` so that the server ships no test scaffolding
/// (nor `NIOEmbedded`); it reaches the loop through `package` declarations, which any target of
/// this package may use and no client of its products can.
///
/// Datagrams go through `MediaLoop.handleDatagram`, the same entry the server's channel handler
/// calls; the loop's outbox is flushed after each datagram with no channel attached, so what is
/// measured is everything the server does up to the socket write (its pooled send buffers
/// included), and nothing of the kernel's.
public final class ForwardingHarness {
    public let loop: MediaLoop
    struct Peer {
        let client: ClientTransport
        let address: TransportAddress
        let socketAddress: SocketAddress
    }
    private let eventLoop: EmbeddedEventLoop
    private let publisher: Peer
    private let subscribers: [Peer]
    private let subscriberSessions: [SubscriberSession]
    private let room: RoomMedia
    private let publisherSession: PublisherSession
    /// Per transport (publisher first, then subscribers): the relay's ICE credentials and the peer's ufrag.
    private let iceCredentials: [(relay: ICECredentials, peerUfrag: String)]
    private let relayAddress = TransportAddress(ip: IPAddress("127.0.0.1")!, port: 40000)
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
    /// Protected datagrams ready to feed, with their sources (reused between runs: no allocation
    /// once their storage is unique again).
    private var prepared: [ByteBuffer] = []
    private var preparedSources: [SocketAddress] = []
    private var publisherSequence: UInt16 = 1000
    public static let publisherSSRC: UInt32 = 0x1234_5678
    public static let firstOutputSSRC: UInt32 = 0x5000_0000
    /// The RTX payload type of a harness made with `rtx` (apt 96).
    public static let repairPayloadType: UInt8 = 97

    /// - Parameters:
    ///   - subscribers: subscribe transports, each consuming the publisher's one video track.
    ///   - transportCCExtensionID: the publisher's id for the transport-wide sequence number, if it
    ///     negotiated one (the relay then sends it TWCC feedback).
    ///   - rembBitrate: the publisher's ceiling, if it negotiated REMB and one is configured.
    ///   - simulcast: the video's simulcast layers by RID; the publisher then announces no SSRC and
    ///     its first packets carry the mid (extension 1) and the RID (extension 4), as browsers do.
    public init(
        subscribers count: Int = 3, profile: SRTPProfile = .aeadAES128GCM, transportCCExtensionID: UInt8? = nil, rembBitrate: UInt64? = nil,
        simulcast rids: [String] = [], rtx: Bool = false
    ) throws {
        eventLoop = EmbeddedEventLoop()
        var configuration = TransportConfiguration()
        configuration.srtpProfiles = [profile]
        var logger = Logger(label: "relais.benchmark")
        logger.logLevel = .error
        let relayCertificate = try DTLSCertificate.generateSelfSigned(commonName: "relay")
        let loop = MediaLoop(eventLoop: eventLoop, configuration: configuration, certificate: relayCertificate, logger: logger)
        self.loop = loop
        let room = loop.room(named: "benchmark", events: { _ in })
        let relayAddress = self.relayAddress

        var port = 51000
        var credentialsLog: [(relay: ICECredentials, peerUfrag: String)] = []
        func connect(_ purpose: TransportPurpose) throws -> Peer {
            let certificate = try DTLSCertificate.generateSelfSigned(commonName: "peer")
            let local = ICECredentials.random()
            let relayCredentials = ICECredentials.random()
            credentialsLog.append((relayCredentials, local.ufrag))
            _ = try loop.addTransport(
                remoteUfrag: local.ufrag, remoteFingerprint: certificate.fingerprintSHA256, purpose: purpose, credentials: relayCredentials)
            let address = TransportAddress(ip: IPAddress("127.0.0.1")!, port: UInt16(port))
            port += 1
            let client = try ClientTransport(
                local: local, remote: relayCredentials,
                localCandidates: [ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: address, type: .host)],
                certificate: certificate, remoteFingerprint: relayCertificate.fingerprintSHA256, configuration: configuration)
            client.addRemoteCandidate(
                ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: relayAddress, type: .host), now: .zero)
            return Peer(client: client, address: address, socketAddress: try address.socketAddress())
        }

        let publisherSession = PublisherSession(room: room)
        self.room = room
        self.publisherSession = publisherSession
        publisher = try connect(.publisher(publisherSession))
        let section = PublishedSection(
            mid: "0", kind: .video, codec: SDPCodec(rtpMap: RTPMap(payloadType: 96, encodingName: "VP8", clockRate: 90_000)),
            ssrc: rids.isEmpty ? Self.publisherSSRC : nil,
            extensions: rids.isEmpty ? [] : [
                ExtensionMap(id: 1, uri: RTPExtensionURI.mid), ExtensionMap(id: 4, uri: RTPExtensionURI.rid),
                ExtensionMap(id: 5, uri: RTPExtensionURI.repairedRid),
            ],
            rids: rids,
            repair: rtx ? SDPCodec(rtpMap: RTPMap(payloadType: Self.repairPayloadType, encodingName: "rtx", clockRate: 90_000),
                                   parameters: FormatParameters(payloadType: Self.repairPayloadType, parameters: "apt=96"), feedback: []) : nil)
        room.setPublishedTracks(
            publisherSession, [(trackID: "video", section: section)], midExtensionID: rids.isEmpty ? nil : 1,
            transportCCExtensionID: transportCCExtensionID, rembBitrate: rembBitrate)
        var peers: [Peer] = []
        var sessions: [SubscriberSession] = []
        for i in 0..<count {
            let session = SubscriberSession(room: room)
            peers.append(try connect(.subscriber(session)))
            room.setSubscriptions(session, [Subscription(
                trackID: "video", outputSSRC: Self.firstOutputSSRC + UInt32(i), payloadType: 100,
                extensions: [ExtensionIDMapping(publisher: 2, subscriber: 3), ExtensionIDMapping(publisher: 3, subscriber: 5)])])
            sessions.append(session)
        }
        subscribers = peers
        subscriberSessions = sessions
        iceCredentials = credentialsLog
        let scratch = self.scratch

        // ICE checks, DTLS handshakes, SRTP keys: move datagrams both ways on a fake client clock.
        var now = Instant.zero
        let all = [publisher] + subscribers
        for _ in 0..<2000 where !all.allSatisfy({ $0.client.isConnected }) || loop.transportCount != all.count
            || !loop.allSnapshots().allSatisfy(\.connected) {
            now = now + .milliseconds(10)
            for peer in all {
                peer.client.handleTimeout(now: now)
                while let (bytes, _, _) = peer.client.pollTransmit() {
                    var buffer = ByteBuffer(bytes: bytes)
                    loop.handleDatagram(AddressedEnvelope(remoteAddress: peer.socketAddress, data: buffer))
                    buffer.clear()
                }
            }
            loop.outbox.drain { envelope in
                guard let peer = all.first(where: { $0.socketAddress == envelope.remoteAddress }) else { return }
                let n = envelope.data.readableBytes
                envelope.data.withUnsafeReadableBytes { scratch.copyMemory(from: $0) }
                _ = peer.client.handleDatagram(scratch, length: n, localIndex: 0, from: relayAddress, now: now)
            }
            for peer in all { while peer.client.pollEvent() != nil {} }
        }
        guard all.allSatisfy({ $0.client.isConnected }), loop.allSnapshots().allSatisfy(\.connected) else {
            throw ForwardingHarnessError.notConnected
        }
    }

    deinit {
        scratch.deallocate()
    }

    /// Counters of the loop (forwarded, retransmissions, datagrams out...).
    public var counters: MediaLoopCounters { loop.counters }

    private func setPrepared(_ index: Int, length: Int, from source: SocketAddress) {
        let bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[0..<length])
        if index < prepared.count {
            prepared[index].clear()
            prepared[index].writeBytes(bytes)
            preparedSources[index] = source
        } else {
            prepared.append(ByteBuffer(bytes: bytes))
            preparedSources.append(source)
        }
    }

    /// Protects `count` copies of the RTP packet `packet` as the publisher, with successive
    /// sequence numbers (the SSRC is set to the published track's).
    public func prepareRTP(_ packet: [UInt8], count: Int) {
        for i in 0..<count {
            scratch.copyBytes(from: packet)
            publisherSequence &+= 1
            RTPRewrite.setSequenceNumber(SequenceNumber(publisherSequence), in: scratch)
            RTPRewrite.setSSRC(SSRC(Self.publisherSSRC), in: scratch)
            guard let n = publisher.client.protectRTP(scratch, length: packet.count) else { fatalError("protect failed") }
            setPrepared(i, length: n, from: publisher.socketAddress)
        }
    }

    /// Protects each packet as the publisher, as it is but for its SSRC (set to the published track's).
    public func prepareRTP(packets: [[UInt8]]) {
        for (i, packet) in packets.enumerated() {
            scratch.copyBytes(from: packet)
            RTPRewrite.setSSRC(SSRC(Self.publisherSSRC), in: scratch)
            guard let n = publisher.client.protectRTP(scratch, length: packet.count) else { fatalError("protect failed") }
            setPrepared(i, length: n, from: publisher.socketAddress)
        }
    }

    /// The RTCP compound in a datagram the relay sent the publisher, decrypted; nil for anything else.
    public func publisherRTCP(_ envelope: AddressedEnvelope<ByteBuffer>) -> [UInt8]? {
        guard envelope.remoteAddress == publisher.socketAddress else { return nil }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buffer.deallocate() }
        let n = envelope.data.readableBytes
        envelope.data.withUnsafeReadableBytes { buffer.copyMemory(from: $0) }
        guard case .rtcp(let length) = publisher.client.handleDatagram(buffer, length: n, localIndex: 0, from: relayAddress, now: .zero) else {
            return nil
        }
        return Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<length]))
    }

    /// Runs the room's timer work (`MediaLoop.tickRoom`: reports, feedback, NACKs) as of `now`,
    /// then gives what the loop queued to `sink`.
    public func tick(at now: Instant, collecting sink: (AddressedEnvelope<ByteBuffer>) -> Void) {
        loop.tickRoom(room, now: now)
        loop.outbox.drain(sink)
    }

    /// Sets every subscriber's retransmission budget (benchmarks measure the answered path, so they
    /// lift the share that would otherwise refuse most of a thousand NACKs in a row).
    public func setRetransmissionBudget(sharePercent: Int, floorBytes: Int) {
        var configuration = RetransmissionBudget.Configuration()
        configuration.sharePercent = sharePercent
        configuration.floorBytes = floorBytes
        for session in subscriberSessions { session.retransmissionBudget = RetransmissionBudget(configuration: configuration) }
    }

    /// Protects `count` NACKs from the first subscriber, each for one packet still in the
    /// retransmission cache: the packet `behind` before the last one it was sent, or with
    /// `distinct` the `i`-th before it (each number is answered at most once per round trip).
    public func prepareNACKs(count: Int, behind: Int, distinct: Bool = false) {
        let subscriber = subscribers[0]
        guard let consumer = subscriberSessions[0].consumers[Self.firstOutputSSRC] else { fatalError("no consumer") }
        for i in 0..<count {
            let lost = consumer.downTrack.lastOutputSequence.advanced(by: -(distinct ? behind + i : behind))
            var writer = ByteWriter(scratch)
            do {
                try ReceiverReport(ssrc: SSRC(0xABCD)).serialize(into: &writer)
                try GenericNACK(senderSSRC: SSRC(0xABCD), mediaSSRC: SSRC(Self.firstOutputSSRC), pairs: [NACKPair(packetID: lost)])
                    .serialize(into: &writer)
            } catch {
                fatalError("NACK serialization failed")
            }
            guard let n = subscriber.client.protectRTCP(scratch, length: writer.position) else { fatalError("protect failed") }
            setPrepared(i, length: n, from: subscriber.socketAddress)
        }
    }

    /// Protects `count` RTCP compounds from the publisher: a sender report for its video track
    /// (the relay translates it for every subscriber).
    public func prepareSenderReports(count: Int) {
        for i in 0..<count {
            var writer = ByteWriter(scratch)
            do {
                try SenderReport(
                    ssrc: SSRC(Self.publisherSSRC), ntpTimestamp: 0xE000_0000_0000_0000 + UInt64(i) << 32, rtpTimestamp: 90_000 &* UInt32(i),
                    packetCount: 1000, octetCount: 1_200_000
                ).serialize(into: &writer)
            } catch {
                fatalError("SR serialization failed")
            }
            guard let n = publisher.client.protectRTCP(scratch, length: writer.position) else { fatalError("protect failed") }
            setPrepared(i, length: n, from: publisher.socketAddress)
        }
    }

    /// Protects one RTP packet per entry of `sequences` as the publisher, under `ssrc`, with the
    /// payload's last byte set to `fill` (so packets of one number can differ), for hostile-input tests.
    public func prepareRTP(_ packet: [UInt8], sequences: [UInt16], ssrc: UInt32 = ForwardingHarness.publisherSSRC, fill: UInt8) {
        for (i, sequence) in sequences.enumerated() {
            scratch.copyBytes(from: packet)
            scratch[packet.count - 1] = fill
            RTPRewrite.setSequenceNumber(SequenceNumber(sequence), in: scratch)
            RTPRewrite.setSSRC(SSRC(ssrc), in: scratch)
            guard let n = publisher.client.protectRTP(scratch, length: packet.count) else { fatalError("protect failed") }
            setPrepared(i, length: n, from: publisher.socketAddress)
        }
    }

    /// The publisher renegotiates its video under a new SSRC (as `Room` does on a new offer).
    public func changePublisherSSRC(_ ssrc: UInt32) {
        let section = PublishedSection(
            mid: "0", kind: .video, codec: SDPCodec(rtpMap: RTPMap(payloadType: 96, encodingName: "VP8", clockRate: 90_000)),
            ssrc: ssrc, extensions: [])
        room.setPublishedTracks(publisherSession, [(trackID: "video", section: section)], midExtensionID: nil)
    }

    /// Protects one NACK from the first subscriber listing `numbers` (one PID per entry, in order,
    /// repeats kept), at prepared index `index`.
    public func prepareNACK(listing numbers: [UInt16], at index: Int = 0) {
        var writer = ByteWriter(scratch)
        do {
            try ReceiverReport(ssrc: SSRC(0xABCD)).serialize(into: &writer)
            try GenericNACK(senderSSRC: SSRC(0xABCD), mediaSSRC: SSRC(Self.firstOutputSSRC),
                            pairs: numbers.map { NACKPair(packetID: SequenceNumber($0)) }).serialize(into: &writer)
        } catch {
            fatalError("NACK serialization failed")
        }
        guard let n = subscribers[0].client.protectRTCP(scratch, length: writer.position) else { fatalError("protect failed") }
        setPrepared(index, length: n, from: subscribers[0].socketAddress)
    }

    /// Protects nothing: an ICE Binding request (RFC 8445 §7.2.2) that authenticates with the relay
    /// credentials of transport `transport` (0 the publisher, then the subscribers), as its peer
    /// would send it, from `source`, at prepared index `index`.
    public func prepareCheck(transport: Int, from source: SocketAddress, at index: Int = 0) {
        let (relay, peerUfrag) = iceCredentials[transport]
        guard let bytes = try? STUNMessageBuilder.build(type: .bindingRequest, transactionID: .random(), { (b: inout STUNMessageBuilder) throws(BufferTooSmall) in
            try b.addUsername("\(relay.ufrag):\(peerUfrag)")
            try b.addICEControlling(42)
            try b.addPriority(1)
            try b.addMessageIntegrity(password: relay.password)
            try b.addFingerprint()
        }) else { fatalError("STUN build failed") }
        scratch.copyBytes(from: bytes)
        setPrepared(index, length: bytes.count, from: source)
    }

    /// The publisher's address, from which its media comes.
    public var publisherAddress: SocketAddress { publisher.socketAddress }

    /// Makes the first subscriber take the video under `outputSSRC` instead of what it had (a
    /// renegotiation: its previous consumer is removed).
    public func resubscribeFirst(outputSSRC: UInt32) {
        room.setSubscriptions(subscriberSessions[0], [Subscription(
            trackID: "video", outputSSRC: outputSSRC, payloadType: 100,
            extensions: [ExtensionIDMapping(publisher: 2, subscriber: 3), ExtensionIDMapping(publisher: 3, subscriber: 5)])])
    }

    /// Protects one packet per entry as the publisher, each under its own SSRC, with the mid and the
    /// entry's RID as header extensions when it has one (a simulcast layer's first packets).
    public func prepareLayerRTP(_ packets: [(ssrc: UInt32, rid: String?, sequence: UInt16, timestamp: UInt32, marker: Bool, payload: [UInt8])]) {
        for (i, entry) in packets.enumerated() {
            let extensions = entry.rid.map { [RTPHeaderExtension(id: 1, value: Array("0".utf8)), RTPHeaderExtension(id: 4, value: Array($0.utf8))] } ?? []
            let bytes = RTPPacket(
                marker: entry.marker, payloadType: PayloadType(96), sequenceNumber: SequenceNumber(entry.sequence), timestamp: entry.timestamp,
                ssrc: SSRC(entry.ssrc), extensions: extensions, payload: entry.payload).serialized()
            scratch.copyBytes(from: bytes)
            guard let n = publisher.client.protectRTP(scratch, length: bytes.count) else { fatalError("protect failed") }
            setPrepared(i, length: n, from: publisher.socketAddress)
        }
    }

    /// Protects an RTX packet (RFC 4588) as the publisher at prepared index `index`: under
    /// `repairSSRC`, the repaired-RID extension naming `rid`, and the payload `original` sequence
    /// number + `payload` (nothing for a padding-only probe).
    public func prepareRepairRTP(repairSSRC: UInt32, rid: String, sequence: UInt16, original: UInt16?, payload: [UInt8], at index: Int = 0) {
        let body = original.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] + payload } ?? []
        let bytes = RTPPacket(
            payloadType: PayloadType(Self.repairPayloadType), sequenceNumber: SequenceNumber(sequence), timestamp: 0, ssrc: SSRC(repairSSRC),
            extensions: [RTPHeaderExtension(id: 1, value: Array("0".utf8)), RTPHeaderExtension(id: 5, value: Array(rid.utf8))],
            payload: body, paddingLength: original == nil ? 200 : 0).serialized()
        scratch.copyBytes(from: bytes)
        guard let n = publisher.client.protectRTP(scratch, length: bytes.count) else { fatalError("protect failed") }
        setPrepared(index, length: n, from: publisher.socketAddress)
    }

    /// The RTP packet in a datagram the relay sent the first subscriber, decrypted; nil for anything else.
    public func firstSubscriberRTP(_ envelope: AddressedEnvelope<ByteBuffer>) -> RTPPacket? {
        guard envelope.remoteAddress == subscribers[0].socketAddress else { return nil }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buffer.deallocate() }
        let n = envelope.data.readableBytes
        envelope.data.withUnsafeReadableBytes { buffer.copyMemory(from: $0) }
        guard case .rtp(let length) = subscribers[0].client.handleDatagram(buffer, length: n, localIndex: 0, from: relayAddress, now: .zero),
              let view = try? RTPPacketView(parsing: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<length])) else {
            return nil
        }
        return RTPPacket(view)
    }

    /// The first subscriber chooses a simulcast layer of the video (`selectLayer`), as of `now`.
    public func selectLayerForFirst(_ rid: String?, now: Instant) {
        room.setPreferredLayer(subscriberSessions[0], trackID: "video", rid: rid, now: now)
    }

    /// The first subscriber's layer: the RID forwarded now and the one it switches to.
    public var firstSubscriberLayer: (current: String?, target: String?) {
        let consumer = subscriberSessions[0].consumers[Self.firstOutputSSRC]
        return (consumer?.stream?.rid, consumer?.targetStream?.rid)
    }

    /// The first subscriber's address, where its datagrams go.
    public var firstSubscriberAddress: SocketAddress { subscribers[0].socketAddress }

    /// The first subscriber's consumer: its last output sequence number.
    public var firstSubscriberLastOutput: UInt16 {
        subscriberSessions[0].consumers[Self.firstOutputSSRC]?.downTrack.lastOutputSequence.rawValue ?? 0
    }

    /// Hands prepared datagram `index` to the loop, then gives what it queued to `sink`.
    public func feed(_ index: Int, collecting sink: (AddressedEnvelope<ByteBuffer>) -> Void) {
        loop.handleDatagram(AddressedEnvelope(remoteAddress: preparedSources[index], data: prepared[index]))
        loop.outbox.drain(sink)
    }

    /// Hands prepared datagram `index` to the loop as the channel would, then flushes its outbox.
    @inline(__always)
    public func feed(_ index: Int) {
        loop.handleDatagram(AddressedEnvelope(remoteAddress: preparedSources[index], data: prepared[index]))
        loop.flush()
    }
}

public enum ForwardingHarnessError: Error {
    case notConnected
}
