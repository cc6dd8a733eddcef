public import RelaisWire
public import RelaisTransport
import RelaisSFU

/// What the media loop knows of one room's transports and tracks, for the admin API.
///
/// Built on the room's loop in one hop per admin request (`MediaServer.roomStatistics`), from
/// counters the forward path keeps as plain integers; nothing here runs per packet.
public struct RoomMediaStatistics: Sendable {
    public var transports: [TransportID: TransportStatistics]
}

/// One publish or subscribe transport of the room.
public struct TransportStatistics: Sendable {
    /// State, SRTP profile, selected peer address, datagram and SRTP counters, drops.
    public var snapshot: TransportSnapshot
    /// The loop's socket address: the relay side of the selected candidate pair.
    public var localAddress: TransportAddress?
    /// The tracks a publish transport sends the relay (empty for a subscribe transport).
    public var published: [PublishedTrackStatistics]
    /// The tracks the relay forwards on a subscribe transport (empty for a publish transport).
    public var forwarded: [ForwardedTrackStatistics]
    /// A publish transport's congestion feedback to its publisher.
    public var publisherFeedback: PublisherFeedbackStatistics?
}

/// The congestion feedback a publish transport sends its publisher (TWCC, REMB).
public struct PublisherFeedbackStatistics: Sendable, Equatable {
    public var transportWide: Bool
    public var feedbackPackets: Int
    public var packetsReported: Int
    public var rembBitrate: UInt64?
}

/// A published track as the relay receives it (`TrackStats` direction `in`).
public struct PublishedTrackStatistics: Sendable, Equatable {
    public var trackID: String
    /// `audio` or `video`.
    public var kind: String
    public var ssrc: UInt32?
    /// Decrypted RTP (header and payload) over the last interval of about one second.
    public var bitrateKbps: Double
    /// RTP packets received, retransmissions and duplicates included.
    public var packets: Int
    /// Decrypted RTP bytes (header and payload) of `packets`.
    public var bytes: Int
    /// Cumulative loss (RFC 3550 §6.4.1, as the relay's receiver reports carry it).
    public var packetsLost: Int
    /// Over the last interval of about one second, 0...1.
    public var fractionLost: Double
    /// Interarrival jitter (RFC 3550 §6.4.1) in ms; nil before the first packet.
    public var jitterMs: Double?
    /// NACK packets the relay sent the publisher for this track.
    public var nacks: Int
    /// PLIs the relay sent the publisher for this track (after throttling).
    public var plis: Int
    /// Keyframe starts received (video).
    public var keyframes: Int
    /// Stalls: packets stopped for over 500 ms after the stream had started (video).
    public var freezes: Int
    /// Inside a stall right now.
    public var frozen: Bool
    /// Simulcast layers (empty for a single-stream track).
    public var layers: [LayerStatistics] = []
}

/// One simulcast layer of a published track.
public struct LayerStatistics: Sendable, Equatable {
    public var rid: String
    public var ssrc: UInt32?
    public var width: Int?
    public var height: Int?
    public var framesPerSecond: Double
    public var bitrateKbps: Double
    public var packets: Int
    public var keyframes: Int
    /// Consumers forwarding this layer now.
    public var subscribers: Int
}

/// A track the relay forwards to one subscriber (`TrackStats` direction `out`).
public struct ForwardedTrackStatistics: Sendable, Equatable {
    public var trackID: String
    public var kind: String
    /// The SSRC the subscriber receives the track under.
    public var outputSSRC: UInt32
    /// Forwarded RTP (header and payload, before protection) over the last interval of about one second.
    public var bitrateKbps: Double
    /// RTP packets sent to the subscriber, retransmissions answering its NACKs included.
    public var packets: Int
    /// Rewritten RTP bytes (header and payload, before protection) of `packets`.
    public var bytes: Int
    /// From the subscriber's last report block about `outputSSRC` (0 before one arrives).
    public var packetsLost: Int
    public var fractionLost: Double
    public var jitterMs: Double?
    /// A − LSR − DLSR of the subscriber's last report that named an SR the relay remembers.
    public var roundTripMs: Double?
    /// NACK packets the subscriber sent about this track.
    public var nacks: Int
    /// PLIs and FIR entries the subscriber sent about this track.
    public var plis: Int
    /// Keyframe starts forwarded (video).
    public var keyframes: Int
    /// Stalls in forwarding while the subscriber was connected, after its first keyframe (video).
    public var freezes: Int
    public var frozen: Bool
    /// The down track waits for a keyframe (before the first one, or after a source switch).
    public var waitingForKeyframe: Bool
    /// The simulcast layer forwarded (its RID), nil for a single-stream track; switches so far.
    public var layer: String? = nil
    public var layerSwitches = 0
    /// Packets retransmitted to answer the subscriber's NACKs (also in `packets`).
    public var retransmissions = 0
    /// NACKed sequence numbers not answered: asked again within a round trip, or over the
    /// subscriber's retransmission budget.
    public var nackRepeats = 0
    public var nackOverBudget = 0
}

extension MediaLoop {
    /// The room's transports and tracks right now; empty when the room has no media on this loop.
    /// Call on the loop.
    func roomStatistics(_ name: String) -> RoomMediaStatistics {
        var result = RoomMediaStatistics(transports: [:])
        guard let room = rooms[name] else { return result }
        for (id, publisher) in room.publishers {
            guard let snapshot = transportSnapshot(id) else { continue }
            result.transports[id] = TransportStatistics(
                snapshot: snapshot, localAddress: localAddress,
                published: publisher.tracks.map(PublishedTrackStatistics.init), forwarded: [],
                publisherFeedback: PublisherFeedbackStatistics(
                    transportWide: publisher.transportCCExtensionID != nil, feedbackPackets: publisher.transportFeedback.feedbackPackets,
                    packetsReported: publisher.transportFeedback.packetsRecorded, rembBitrate: publisher.rembBitrate))
        }
        for (id, subscriber) in room.subscribers {
            guard let snapshot = transportSnapshot(id) else { continue }
            result.transports[id] = TransportStatistics(
                snapshot: snapshot, localAddress: localAddress, published: [],
                forwarded: subscriber.consumers.values.map(ForwardedTrackStatistics.init)
                    .sorted { ($0.trackID, $0.outputSSRC) < ($1.trackID, $1.outputSSRC) })
        }
        return result
    }
}

extension PublishedTrackStatistics {
    /// Loss and jitter over the track's streams: lost packets summed, the worst fraction and jitter.
    init(_ track: ProducerTrack) {
        let streams = track.streams
        let received = streams.compactMap(\.statistics)
        let jitter = received.map { track.clockRate > 0 ? $0.jitterEstimate * 1000 / Double(track.clockRate) : 0 }.max()
        self.init(
            trackID: track.trackID, kind: track.kind == .video ? "video" : "audio", ssrc: streams.lazy.compactMap(\.ssrc).first,
            bitrateKbps: track.counters.rate.kbps, packets: track.counters.packets, bytes: track.counters.bytes,
            packetsLost: received.reduce(0) { $0 + Int($1.cumulativeLost) }, fractionLost: streams.map(\.loss.fractionLost).max() ?? 0,
            jitterMs: jitter,
            nacks: track.counters.nacks, plis: track.counters.plis, keyframes: track.counters.keyframes,
            freezes: track.counters.freezes, frozen: track.counters.frozen,
            layers: streams.compactMap { stream in
                stream.rid.map { rid in
                    LayerStatistics(
                        rid: rid, ssrc: stream.ssrc, width: stream.width, height: stream.height,
                        framesPerSecond: stream.counters.frameRate.perSecond, bitrateKbps: stream.counters.rate.kbps,
                        packets: stream.counters.packets, keyframes: stream.counters.keyframes,
                        subscribers: track.consumers.reduce(0) { $0 + ($1.stream === stream ? 1 : 0) })
                }
            })
    }
}

extension ForwardedTrackStatistics {
    init(_ consumer: ConsumerTrack) {
        let producer = consumer.producer
        self.init(
            trackID: producer.trackID, kind: producer.kind == .video ? "video" : "audio",
            outputSSRC: consumer.downTrack.outputSSRC.rawValue,
            bitrateKbps: consumer.counters.rate.kbps, packets: consumer.counters.packets, bytes: consumer.counters.bytes,
            packetsLost: consumer.feedback.cumulativeLost, fractionLost: consumer.feedback.fractionLost,
            jitterMs: consumer.feedback.jitterMs, roundTripMs: consumer.feedback.roundTripMs,
            nacks: consumer.counters.nacks, plis: consumer.counters.plis, keyframes: consumer.counters.keyframes,
            freezes: consumer.counters.freezes, frozen: consumer.counters.frozen,
            waitingForKeyframe: consumer.downTrack.waitingForKeyframe, layer: consumer.stream?.rid, layerSwitches: consumer.layerSwitches,
            retransmissions: consumer.retransmissions, nackRepeats: consumer.nackRepeats, nackOverBudget: consumer.nackOverBudget)
    }
}

extension MediaServer {
    /// One room's media statistics, read on the loop the room is pinned to (one hop).
    public func roomStatistics(loop: Int, room: String) async throws -> RoomMediaStatistics {
        try await onLoop(loop) { $0.roomStatistics(room) }
    }
}
