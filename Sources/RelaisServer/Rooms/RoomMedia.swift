package import RelaisNegotiation
import RelaisReceive
package import RelaisSFU
package import RelaisWire

/// What a room's media tells its signaling side (delivered off the media loop).
package enum RoomMediaEvent: Sendable {
    /// A transport closed: consent expired, DTLS failed, or the server is stopping.
    case transportClosed(TransportID, reason: String)
    /// A transport completed ICE and DTLS: media can flow.
    case transportConnected(TransportID, profile: String)
}

/// A published track on the media loop (mediasoup: Producer): its RTP streams (one, or one per
/// simulcast layer) and the subscribers it feeds.
final class ProducerTrack {
    let trackID: String
    let kind: RelaisSFU.MediaKind
    let codec: ForwardedCodec
    let clockRate: UInt32
    let payloadType: UInt8
    /// The RTX payload type (RFC 4588) the publisher's retransmissions use, if negotiated.
    private(set) var repairPayloadType: UInt8?
    let mid: String
    let publisher: TransportID
    /// One stream per simulcast layer, in the publisher's `a=simulcast` order, or the track's only
    /// stream (no RID).
    private(set) var streams: [ProducerStream] = []
    var consumers: [ConsumerTrack] = []
    /// Packets and bytes received over all streams, keyframes seen, NACKs and PLIs sent.
    var counters = TrackCounters()

    init(trackID: String, section: PublishedSection, publisher: TransportID) {
        self.trackID = trackID
        self.kind = section.kind == .video ? .video : .audio
        self.codec = ForwardedCodec(encodingName: section.codec.name) ?? .opus
        self.clockRate = section.clockRate
        self.payloadType = section.codec.payloadType
        self.mid = section.mid
        self.publisher = publisher
        setStreams(section)
    }

    /// The section's streams: one per RID, or one.
    func setStreams(_ section: PublishedSection) {
        let rids: [String?] = section.rids.isEmpty ? [nil] : section.rids
        streams = rids.enumerated().map { index, rid in ProducerStream(track: self, rid: rid, layer: index, ssrc: section.ssrc) }
        setRepair(section)
    }

    /// The section's RTX payload type and, for a single stream, its announced repair SSRC.
    func setRepair(_ section: PublishedSection) {
        repairPayloadType = section.repair?.payloadType
        if section.rids.isEmpty, let repairSSRC = section.repairSSRC { streams.first?.repairSSRC = repairSSRC }
    }

    var isSimulcast: Bool { streams.count > 1 || streams.first?.rid != nil }

    /// The stream a subscriber receives unless it chose another: the best layer that is live
    /// (packets within `ProducerStream.liveWindow`), ranked by the keyframe's resolution once
    /// known, else by the publisher's order (browsers list the smallest first); before any layer
    /// is live, the best by the same ranking.
    func defaultStream(now: Instant) -> ProducerStream? {
        let live = streams.filter { $0.isLive(now: now) }
        return (live.isEmpty ? streams : live).max { $0.rank < $1.rank }
    }

    /// Once a loop tick: each stream's meters, and for video a freeze when every stream stopped.
    func tickStatistics(now: Instant) {
        for stream in streams { stream.tickStatistics(now: now) }
        counters.tick(now: now, detectFreezes: kind == .video)
    }
}

/// One RTP stream of a published track (one simulcast layer, or the track itself): its SSRC, receive
/// statistics and loss detection, retransmission cache and keyframe requests.
package final class ProducerStream {
    unowned let track: ProducerTrack
    /// The layer's RID (RFC 8851), nil for a single-stream track.
    package let rid: String?
    /// Position in the track's `streams`.
    let layer: Int
    /// Announced in SDP, or learnt from the first packet that carried the track's mid or this RID.
    var ssrc: UInt32?
    /// The SSRC of this stream's RTX retransmissions (announced in an FID group, or learnt from the
    /// repaired-RID or mid extension); packets on it, and padding probes among them.
    var repairSSRC: UInt32?
    var repairPackets = 0
    var repairProbes = 0
    var statistics: ReceiveStatistics?
    var nack = NackGenerator()
    /// Video only: audio is not worth retransmitting at conversational latency (Opus FEC/PLC cover it).
    let cache: RetransmissionBuffer?
    var keyframeThrottle = KeyframeRequestThrottle()
    /// This stream's packets, bytes, frames and keyframes (the track's counters hold the sums).
    var counters = TrackCounters()
    /// Fraction lost over the last rate interval, from `statistics`.
    var loss = LossInterval()
    /// The size of the last keyframe (VP8 only; other codecs are not looked into).
    var width: Int?
    var height: Int?

    /// A stream that sent nothing for this long is not offered to subscribers by default (a
    /// browser pauses its upper layers when its uplink cannot carry them).
    static let liveWindow: Duration = .milliseconds(1500)

    init(track: ProducerTrack, rid: String?, layer: Int, ssrc: UInt32?) {
        self.track = track
        self.rid = rid
        self.layer = layer
        self.ssrc = rid == nil ? ssrc : nil
        self.cache = track.kind == .video ? RetransmissionBuffer() : nil
    }

    func isLive(now: Instant) -> Bool { counters.packets > 0 && now.since(counters.lastActivity) < Self.liveWindow }

    /// Resolution first (once a keyframe told it), then the publisher's order.
    var rank: (Int, Int) { ((width ?? 0) * (height ?? 0), layer) }

    /// Starts the receive statistics afresh (the publisher's SSRC changed). The cache is emptied
    /// too: its packets are keyed by a sequence number that now means another packet, and a NACK
    /// answer must replay exactly what was forwarded under the number asked (RFC 3711 §9.1).
    func resetStatistics() {
        statistics = nil
        loss.reset()
        cache?.removeAll()
    }

    /// Once a loop tick: the rate meters and the loss interval with each rate sample.
    func tickStatistics(now: Instant) {
        let sampledAt = counters.rate.sampleAt
        counters.tick(now: now, detectFreezes: false)
        if counters.rate.sampleAt != sampledAt, let statistics {
            loss.sample(lost: statistics.cumulativeLost, received: statistics.packetsReceived)
        }
    }
}

/// One subscriber's copy of a producer (mediasoup: Consumer).
package final class ConsumerTrack {
    let subscriber: TransportID
    unowned let producer: ProducerTrack
    package var downTrack: DownTrack
    /// Packets and bytes sent, retransmissions included (rewritten RTP length, before protection), keyframes forwarded,
    /// NACKs and PLI/FIR received from the subscriber.
    var counters = TrackCounters()
    /// Loss, jitter and round-trip time from the subscriber's reports.
    var feedback = ConsumerFeedback()
    /// The stream (simulcast layer) forwarded now, and the one to switch to at its next keyframe
    /// (the same when no switch is under way). Nil before a layer was chosen.
    package var stream: ProducerStream?
    package var targetStream: ProducerStream?
    /// The layer the subscriber chose (`selectLayer`); nil lets the relay choose.
    var preferredRID: String?
    /// Layer switches completed (at a keyframe of the new layer).
    var layerSwitches = 0
    /// The subscriber's transport, bound by the media loop on the first forwarded packet so the
    /// forwarding loop reaches it without a dictionary lookup. The cycle it closes (entry,
    /// subscriber session, consumer) is broken when the subscriber is removed from its room.
    var subscriberEntry: TransportEntry?
    /// Answers each NACKed output sequence number at most once per round trip.
    var retransmissionGate = RetransmissionGate()
    /// NACK answers: packets retransmitted (also in `counters`), their bytes, and the sequence
    /// numbers refused by reason.
    var retransmissions = 0
    var retransmittedBytes = 0
    var nackRepeats = 0
    var nackOverBudget = 0

    init(subscriber: TransportID, producer: ProducerTrack, downTrack: DownTrack) {
        self.subscriber = subscriber
        self.producer = producer
        self.downTrack = downTrack
    }

    /// Sets the layer to receive: the subscriber's choice when the track has it, else the track's
    /// default. Before the first packet is forwarded the consumer starts on it directly (its down
    /// track waits for a keyframe anyway); afterwards the switch happens at the target's keyframe.
    func chooseLayer(now: Instant) {
        let streams = producer.streams
        let target = preferredRID.flatMap { rid in streams.first { $0.rid == rid } } ?? producer.defaultStream(now: now)
        targetStream = target
        if stream == nil || counters.packets == 0, stream !== target {
            stream = target
            downTrack.resetSource()
        }
    }

    /// Once a loop tick: the rate meter and, for video while the subscriber is connected, a freeze
    /// when forwarding stopped. Nothing counts before the first forwarded packet (the first
    /// keyframe), so a subscriber still waiting for its first keyframe never shows a freeze.
    func tickStatistics(now: Instant, connected: Bool) {
        counters.tick(now: now, detectFreezes: connected && producer.kind == .video)
    }
}

/// The publish transport of one participant.
package final class PublisherSession {
    unowned let room: RoomMedia
    /// Set when the loop registers the transport.
    var transport: TransportID = 0
    var tracks: [ProducerTrack] = []
    var streamsBySSRC: [UInt32: ProducerStream] = [:]
    var streamsByRepairSSRC: [UInt32: ProducerStream] = [:]
    /// RTX payload types (RFC 4588) of the tracks, one flag per payload type: a packet under one is
    /// a retransmission or probe on a repair SSRC.
    var repairPayloadTypes = [Bool](repeating: false, count: 128)
    /// Publisher's id for the repaired-RID extension, to bind simulcast layers' repair SSRCs.
    var repairedRIDExtensionID: UInt8?
    /// Publisher's id for the mid header extension, to bind unannounced SSRCs (RFC 8843 §15).
    var midExtensionID: UInt8?
    /// Publisher's id for the RID header extension, to bind simulcast layers' SSRCs (RFC 8852).
    var ridExtensionID: UInt8?
    /// Publisher's id for the transport-wide sequence number; with it, every packet's arrival is
    /// recorded and reported back in TWCC feedback for the publisher's congestion controller.
    var transportCCExtensionID: UInt8?
    var transportFeedback = TransportFeedbackRecorder()
    /// The ceiling sent in REMB once a second (bits per second), when configured and negotiated.
    var rembBitrate: UInt64?
    var lastREMB = Instant.zero
    var lastReceiverReport = Instant.zero
    var lostScratch: [SequenceNumber] = []

    package init(room: RoomMedia) {
        self.room = room
        lostScratch.reserveCapacity(512)
    }

    func rebuildIndex() {
        streamsBySSRC = [:]
        streamsByRepairSSRC = [:]
        repairPayloadTypes = [Bool](repeating: false, count: 128)
        for track in tracks {
            if let pt = track.repairPayloadType, pt < 128 { repairPayloadTypes[Int(pt)] = true }
            for stream in track.streams {
                if let ssrc = stream.ssrc { streamsBySSRC[ssrc] = stream }
                if let ssrc = stream.repairSSRC { streamsByRepairSSRC[ssrc] = stream }
            }
        }
    }
}

/// The subscribe transport of one participant.
package final class SubscriberSession {
    unowned let room: RoomMedia
    /// Set when the loop registers the transport.
    var transport: TransportID = 0
    /// By output SSRC, to route this subscriber's NACK/PLI/FIR to the right consumer.
    package var consumers: [UInt32: ConsumerTrack] = [:]
    /// Simulcast layers the subscriber chose (`selectLayer`), by track id.
    var preferredLayers: [String: String] = [:]
    /// Bytes the relay may retransmit to this subscriber: a share of what it forwards.
    package var retransmissionBudget = RetransmissionBudget()
    /// Output SSRCs of consumers removed since the media loop last retired them from the transport's
    /// outbound SRTP context (drained on the loop, so the context's slots can be reused).
    var retiredOutputSSRCs: [UInt32] = []
    /// The down tracks of removed consumers, by output SSRC, oldest first in `retiredOrder`: a
    /// consumer created again under the same SSRC continues their output numbering, because the
    /// outbound SRTP context remembers the indices they used (`DownTrack.continueOutput`).
    private(set) var retiredDownTracks: [UInt32: DownTrack] = [:]
    private var retiredOrder: [UInt32] = []
    static let retiredDownTrackLimit = 256

    /// Remembers a removed consumer's output for a later consumer of the same SSRC. Beyond the
    /// limit the oldest is forgotten; the SRTP context then refuses that SSRC rather than reuse
    /// one of its indices (`SRTPError.ssrcRetired`).
    func retire(_ consumer: ConsumerTrack) {
        let ssrc = consumer.downTrack.outputSSRC.rawValue
        retiredOutputSSRCs.append(ssrc)
        if retiredDownTracks.updateValue(consumer.downTrack, forKey: ssrc) == nil { retiredOrder.append(ssrc) }
        while retiredOrder.count > Self.retiredDownTrackLimit {
            retiredDownTracks.removeValue(forKey: retiredOrder.removeFirst())
        }
    }

    /// The down track a removed consumer of `ssrc` left, if remembered (and forgets it).
    func takeRetiredDownTrack(_ ssrc: UInt32) -> DownTrack? {
        guard let downTrack = retiredDownTracks.removeValue(forKey: ssrc) else { return nil }
        retiredOrder.removeAll { $0 == ssrc }
        return downTrack
    }

    package init(room: RoomMedia) {
        self.room = room
    }

    /// Bytes forwarded to this subscriber so far, retransmissions excluded (a removed consumer's
    /// bytes leave the sum; the budget's window clamps at zero).
    var forwardedBytes: Int {
        var total = 0
        for consumer in consumers.values { total &+= consumer.counters.bytes &- consumer.retransmittedBytes }
        return total
    }

    /// Takes in the report blocks of an RR or SR from this subscriber (RFC 3550 §6.4.1); blocks
    /// about SSRCs that are not one of its consumers' outputs are ignored. Allocates nothing.
    func receiveReports(_ packet: RTCPHeaderView, now: Instant) {
        switch packet.packetType {
        case RTCPPacketType.receiverReport:
            guard let rr = try? ReceiverReportView(packet) else { return }
            for index in 0..<rr.reportBlockCount { receiveReportBlock(rr.reportBlock(at: index), now: now) }
        case RTCPPacketType.senderReport:
            guard let sr = try? SenderReportView(packet) else { return }
            for index in 0..<sr.reportBlockCount { receiveReportBlock(sr.reportBlock(at: index), now: now) }
        default:
            return
        }
    }

    private func receiveReportBlock(_ block: ReportBlock, now: Instant) {
        guard let consumer = consumers[block.ssrc.rawValue] else { return }
        consumer.feedback.record(block, clockRate: consumer.downTrack.clockRate, now: now)
    }
}

/// A room's media state, confined to the room's media loop.
package final class RoomMedia {
    let name: String
    /// SSRC the relay uses as sender of the feedback and reports it originates.
    let relaySSRC = UInt32.random(in: 1...UInt32.max)
    var producers: [String: ProducerTrack] = [:]
    var publishers: [TransportID: PublisherSession] = [:]
    var subscribers: [TransportID: SubscriberSession] = [:]
    let events: @Sendable (RoomMediaEvent) -> Void

    init(name: String, events: @escaping @Sendable (RoomMediaEvent) -> Void) {
        self.name = name
        self.events = events
    }

    /// Replaces a publisher's tracks with those of its latest negotiated offer.
    package func setPublishedTracks(
        _ publisher: PublisherSession, _ sections: [(trackID: String, section: PublishedSection)], midExtensionID: UInt8?,
        transportCCExtensionID: UInt8? = nil, rembBitrate: UInt64? = nil
    ) {
        let keep = Set(sections.map(\.trackID))
        for track in publisher.tracks where !keep.contains(track.trackID) {
            removeProducer(track)
        }
        var tracks: [ProducerTrack] = []
        for (trackID, section) in sections {
            if let existing = producers[trackID] {
                if existing.streams.compactMap(\.rid) != section.rids {
                    // Other layers: new streams, and every subscriber starts again at a keyframe.
                    existing.setStreams(section)
                    for consumer in existing.consumers {
                        consumer.stream = nil
                        consumer.targetStream = nil
                        consumer.downTrack.resetSource()
                    }
                } else {
                    if let ssrc = section.ssrc, let stream = existing.streams.first, stream.rid == nil, ssrc != stream.ssrc {
                        // The publisher restarted its stream: subscribers see one continuous stream.
                        stream.ssrc = ssrc
                        stream.resetStatistics()
                        for consumer in existing.consumers { consumer.downTrack.resetSource() }
                    }
                    existing.setRepair(section)
                }
                tracks.append(existing)
            } else {
                let track = ProducerTrack(trackID: trackID, section: section, publisher: publisher.transport)
                producers[trackID] = track
                tracks.append(track)
            }
        }
        publisher.tracks = tracks
        publisher.midExtensionID = midExtensionID
        publisher.ridExtensionID = sections.lazy.compactMap { $0.section.ridExtensionID }.first
        publisher.repairedRIDExtensionID = sections.lazy.compactMap { $0.section.repairedRIDExtensionID }.first
        publisher.transportCCExtensionID = transportCCExtensionID
        publisher.rembBitrate = rembBitrate
        publisher.rebuildIndex()
    }

    func removeProducer(_ track: ProducerTrack) {
        for consumer in track.consumers {
            guard let subscriber = subscribers[consumer.subscriber] else { continue }
            subscriber.consumers.removeValue(forKey: consumer.downTrack.outputSSRC.rawValue)
            subscriber.retire(consumer)
        }
        track.consumers.removeAll()
        producers.removeValue(forKey: track.trackID)
    }

    /// Makes a subscriber's consumers match what it accepted in its latest answer.
    package func setSubscriptions(_ subscriber: SubscriberSession, _ subscriptions: [Subscription], now: Instant = MediaLoop.now()) {
        let wanted = Dictionary(subscriptions.map { ($0.outputSSRC, $0) }, uniquingKeysWith: { a, _ in a })
        for (ssrc, consumer) in subscriber.consumers where wanted[ssrc]?.trackID != consumer.producer.trackID {
            consumer.producer.consumers.removeAll { $0 === consumer }
            subscriber.consumers.removeValue(forKey: ssrc)
            subscriber.retire(consumer)
        }
        for subscription in subscriptions where subscriber.consumers[subscription.outputSSRC] == nil {
            guard let producer = producers[subscription.trackID] else { continue }
            var downTrack = DownTrack(
                outputSSRC: SSRC(subscription.outputSSRC), kind: producer.kind, codec: producer.codec, clockRate: producer.clockRate,
                payloadTypeMap: [(from: producer.payloadType, to: subscription.payloadType)],
                extensionIDMap: subscription.extensions.map { (from: $0.publisher, to: $0.subscriber) })
            if let retired = subscriber.takeRetiredDownTrack(subscription.outputSSRC) { downTrack.continueOutput(after: retired) }
            let consumer = ConsumerTrack(subscriber: subscriber.transport, producer: producer, downTrack: downTrack)
            consumer.preferredRID = subscriber.preferredLayers[producer.trackID]
            consumer.chooseLayer(now: now)
            producer.consumers.append(consumer)
            subscriber.consumers[subscription.outputSSRC] = consumer
        }
    }

    /// The subscriber's choice of layer for a track (nil: the relay's); applied at the next keyframe
    /// of that layer, and kept for the track's later consumers (a renegotiation).
    package func setPreferredLayer(_ subscriber: SubscriberSession, trackID: String, rid: String?, now: Instant = MediaLoop.now()) {
        subscriber.preferredLayers[trackID] = rid
        for consumer in subscriber.consumers.values where consumer.producer.trackID == trackID {
            consumer.preferredRID = rid
            consumer.chooseLayer(now: now)
        }
    }

    func removeSubscriber(_ transport: TransportID) {
        guard let subscriber = subscribers.removeValue(forKey: transport) else { return }
        for consumer in subscriber.consumers.values {
            consumer.producer.consumers.removeAll { $0 === consumer }
        }
        subscriber.consumers.removeAll()
    }

    func removePublisher(_ transport: TransportID) {
        guard let publisher = publishers.removeValue(forKey: transport) else { return }
        for track in publisher.tracks { removeProducer(track) }
        publisher.tracks.removeAll()
        publisher.streamsBySSRC.removeAll()
    }
}
