import Foundation
import NIOCore
import RelaisCongestion
public import RelaisMedia
public import RelaisWire

/// What the client publishes: synthetic media encoded live, or files replayed without re-encoding.
public struct PublishSource: Sendable {
    public enum Video: Sendable {
        /// The test pattern (frame counter and capture time readable by the receiver), VP8 encoded live.
        case pattern(width: Int, height: Int, fps: Int, bitrateKbps: Int)
        /// Pre-encoded VP8 frames (an IVF file), looped at `fps`.
        case frames([[UInt8]], fps: Int)
    }
    public enum Audio: Sendable {
        /// A 440 Hz tone, Opus encoded live, 20 ms frames.
        case tone
        /// Pre-encoded Opus packets (an Ogg Opus file), looped, 20 ms apart.
        case packets([[UInt8]])
    }
    public var video: Video?
    public var audio: Audio?
    /// The pattern as three VP8 encodings (1/4, 1/2 and full size, each with three temporal
    /// layers), as a browser publishes a camera: the relay gives each subscriber the one it can take.
    public var simulcast: Bool
    /// A hard-to-encode pattern (noise): the encoder fills whatever bitrate it is given, as a real
    /// camera does, instead of undershooting on a simple picture.
    public var noise: Bool

    public init(video: Video?, audio: Audio?, simulcast: Bool = false, noise: Bool = false) {
        self.video = video
        self.audio = audio
        self.simulcast = simulcast
        self.noise = noise
    }
}

/// One encoding sent, for the report.
public struct LayerSendStatistics: Sendable, Codable, Equatable {
    public var rid: String?
    public var width: Int
    public var height: Int
    /// Sending now (a layer the estimate cannot carry is paused).
    public var active: Bool
    /// The encoder's target and what was sent over the last second, kbit/s.
    public var targetKbps: Int
    public var sentKbps: Int
    public var framesSent: Int
    public var packetsSent: Int
}

/// Sender-side counters, for the report.
public struct PublishStatistics: Sendable, Codable, Equatable {
    public var videoFramesSent = 0
    public var videoKeyframesSent = 0
    public var videoPacketsSent = 0
    public var audioPacketsSent = 0
    public var bytesSent = 0
    public var retransmissions = 0
    /// NACKed packets not resent: already resent in the last 100 ms, or over the repair budget.
    public var retransmissionsSkipped = 0
    public var keyframeRequestsReceived = 0
    public var nacksReceived = 0
    /// Transport-wide congestion feedback packets (TWCC) received from the relay.
    public var transportFeedbackReceived = 0
    /// The congestion controller's target (kbit/s) and the video bitrate it gave the encoders,
    /// when the relay sends transport-wide feedback; the encoder changes it made; the loss the
    /// feedback showed (0...1).
    public var estimateKbps: Int?
    public var videoTargetKbps: Int?
    public var encoderRateChanges = 0
    public var feedbackLoss: Double?
    /// Probe clusters sent, those that found more capacity, and the padding packets sent for them.
    public var probeClusters = 0
    public var successfulProbes = 0
    public var paddingPacketsSent = 0
    /// The last probe judged: what it measured (kbit/s, nil when unusable) and the estimate then.
    public var lastProbeKbps: Int?
    public var estimateAtLastProbeKbps: Int?
    /// Everything sent over the last second (media, retransmissions, padding), kbit/s.
    public var sentKbps = 0
    /// RTP bytes sent in each 100 ms since the connection connected (at most 10 minutes), and the
    /// wall-clock time it connected (µs since 1970): a send-rate series at a finer grain than the
    /// report's seconds.
    public var bytesPer100ms: [Int] = []
    public var connectedAtWallMicros: UInt64?
    /// The video encodings (one without simulcast).
    public var layers: [LayerSendStatistics] = []
    /// Encode time per video frame, milliseconds (mean).
    public var meanEncodeMilliseconds = 0.0
    /// Loss the relay reports for our video (its receiver reports), fraction 0...1.
    public var relayReportedLoss: Double?
}

/// One VP8 encoding of the camera and the RTP stream that carries it.
final class VideoLayer {
    let rid: String?
    let width: Int
    let height: Int
    /// The most this layer is given, kbit/s; it is paused under 20% of it (the lowest never is)
    /// and resumes at 30% (hysteresis: a layer does not flap on the estimate's noise).
    let maxKbps: Int
    let encoder: VP8Encoder?
    let pattern: TestPattern?
    var frame: I420Frame?
    var packetizer = VP8Packetizer(initialPictureID: UInt16.random(in: 0...0x7FFF))
    var sender: RTPStreamSender
    /// Its RTX stream (RFC 4588) once the answer kept RTX: retransmissions and probe padding.
    var repair: RTPStreamSender?
    /// Frames given to the encoder: its timestamps advance only with them, so a paused layer
    /// resumes without a jump in time that libvpx's rate control would read as a frame-rate drop.
    var encodedFrames: Int64 = 0
    /// When each sequence number was last resent (the relay repeats its NACKs until a packet
    /// comes; answering each would multiply the load on a link that is already losing).
    var resentAt: [UInt16: Instant] = [:]
    var active = true
    /// Since when the estimate has had room for this paused layer: it resumes after 1.5 s of it.
    var fitsSince: Instant?
    /// When it last resumed: it climbs from 30% of its maximum to all of it over 2 s, so that an
    /// estimate no packet has tested yet (a probe can be fooled by a shaper's bucket) costs a
    /// small overshoot that the delay-based detector catches, not a full layer's.
    var resumedAt: Instant?
    var forceKeyframe = true
    var statistics: LayerSendStatistics
    private var bytesThisSecond = 0

    init(rid: String?, width: Int, height: Int, maxKbps: Int, fps: Int, temporalLayers: Int, noise: Bool, encodes: Bool, sender: RTPStreamSender) throws {
        self.rid = rid
        self.width = width
        self.height = height
        self.maxKbps = maxKbps
        self.sender = sender
        if encodes {
            encoder = try VP8Encoder(
                width: width, height: height, fps: fps, bitrateKbps: maxKbps, temporalLayers: temporalLayers,
                congestionControlled: temporalLayers > 1)
            pattern = TestPattern(width: width, height: height, noise: noise)
            frame = I420Frame(width: width, height: height)
        } else {
            encoder = nil
            pattern = nil
        }
        statistics = LayerSendStatistics(
            rid: rid, width: width, height: height, active: true, targetKbps: maxKbps, sentKbps: 0, framesSent: 0, packetsSent: 0)
    }

    var ssrc: UInt32 { sender.configuration.ssrc.rawValue }

    func sent(bytes: Int) {
        statistics.packetsSent += 1
        bytesThisSecond += bytes
    }

    /// Called once a second.
    func closeSecond() {
        statistics.sentKbps = bytesThisSecond * 8 / 1000
        bytesThisSecond = 0
    }
}

/// The publish connection's media: encode, packetize, send; answer NACK with retransmissions
/// and PLI/FIR with a keyframe; send sender reports; follow the relay's transport-wide feedback
/// with a send-side congestion controller (`RelaisCongestion`) that sets the encoders' bitrates,
/// pauses simulcast layers the estimate cannot carry and probes with padding on RTX for more.
/// Confined to the connection's event loop.
public final class PublishPipeline: ClientConnectionDelegate {
    let connection: ClientConnection
    let source: PublishSource
    /// The single stream's SSRC, or the lowest simulcast layer's.
    public var videoSSRC: UInt32 { layers.first?.ssrc ?? 0 }
    public let audioSSRC: UInt32
    /// The RTX stream probe padding goes on (RFC 4588); in the offer with the video.
    public let repairSSRC: UInt32
    private(set) var layers: [VideoLayer] = []
    private var audioSender: RTPStreamSender
    private var opus: OpusEncoder?
    private var tone = ToneGenerator()
    private var frameNumber: UInt64 = 0
    private var audioIndex = 0
    private let fps: Int
    /// The video bitrate asked for on the command line: the congestion controller's ceiling.
    private var configuredVideoKbps = 0
    private var videoTask: Scheduled<Void>?
    private var audioTask: Scheduled<Void>?
    private var stopped = false
    private var lastSenderReport = Instant.zero
    private var lastSecond = Instant.zero
    private var bytesThisSecond = 0
    private var encodeNanoseconds: UInt64 = 0
    private var repairWindowStart = Instant.zero
    private var connectedAt: Instant?
    private var repairBytesInWindow = 0
    public private(set) var statistics = PublishStatistics()
    public private(set) var closedReason: String?
    let started: Instant

    public init(connection: ClientConnection, source: PublishSource) throws {
        self.connection = connection
        self.source = source
        self.audioSSRC = UInt32.random(in: 1...UInt32.max)
        self.repairSSRC = UInt32.random(in: 1...UInt32.max)
        self.audioSender = Self.audioSender(ssrc: audioSSRC, transportWideSequenceID: nil)
        switch source.video {
        case .pattern(let width, let height, let fps, let kbps):
            self.fps = fps
            configuredVideoKbps = kbps
            if source.simulcast {
                // 1/4, 1/2 and full size; 10%, 25% and 65% of the bitrate (at least 100 kbit/s each).
                let shares = [(4, 10), (2, 25), (1, 65)]
                for (rid, (divisor, share)) in zip(ClientNegotiation.simulcastRIDs, shares) {
                    layers.append(try VideoLayer(
                        rid: rid, width: max(width / divisor / 2 * 2, 16), height: max(height / divisor / 2 * 2, 16),
                        maxKbps: max(kbps * share / 100, 100), fps: fps, temporalLayers: 3, noise: source.noise, encodes: true,
                        sender: Self.videoSender(ssrc: UInt32.random(in: 1...UInt32.max), rid: rid, transportWideSequenceID: nil)))
                }
            } else {
                layers.append(try VideoLayer(
                    rid: nil, width: width, height: height, maxKbps: kbps, fps: fps, temporalLayers: 1, noise: source.noise, encodes: true,
                    sender: Self.videoSender(ssrc: UInt32.random(in: 1...UInt32.max), rid: nil, transportWideSequenceID: nil)))
            }
        case .frames(_, let fps):
            self.fps = fps
            layers.append(try VideoLayer(
                rid: nil, width: 0, height: 0, maxKbps: 0, fps: fps, temporalLayers: 1, noise: false, encodes: false,
                sender: Self.videoSender(ssrc: UInt32.random(in: 1...UInt32.max), rid: nil, transportWideSequenceID: nil)))
        case nil:
            self.fps = 30
        }
        if case .tone = source.audio { opus = try OpusEncoder(channels: 1) }
        started = ClientConnection.now()
        connection.delegate = self
    }

    /// What to offer for the video: its streams and the RTX stream.
    public var videoOffer: ClientNegotiation.VideoOffer? {
        guard source.video != nil, let first = layers.first else { return nil }
        if layers.count > 1 || layers[0].rid != nil {
            return .init(ssrc: first.ssrc, repairSSRC: repairSSRC, rids: layers.compactMap(\.rid))
        }
        return .init(ssrc: first.ssrc, repairSSRC: source.simulcast || layers[0].encoder != nil ? repairSSRC : nil)
    }

    /// The transport-wide sequence number shared by every stream of the connection.
    private var transportSequence: UInt16 = 0
    private var stampsTransportSequence = false
    /// The send-side congestion controller (GCC, `RelaisCongestion`), fed by the relay's
    /// transport-wide feedback; it sets the encoders' bitrates, never above the configured video
    /// bitrate.
    private var congestion: SendSideBandwidthEstimator?
    /// Whether the answer kept RTX: probing pads on it.
    private var canPad = false
    /// The probe cluster being sent: media sent meanwhile counts towards it.
    private var activeProbe: (id: Int, end: Instant)?
    /// Video and its retransmissions leave through the pacer (audio and probe padding do not):
    /// packets waiting, with where their transport-wide number goes (it is given as they leave,
    /// so that the numbers follow the send order the receiver's feedback is read in) and layer.
    private var pacer: PacingBudget?
    private var paced: [(bytes: [UInt8], sequenceOffset: Int?, layer: VideoLayer?)] = []
    private var pacedHead = 0
    private var pacedBytes = 0
    private var drainScheduled = false
    /// UDP/IP and SRTP bytes around each RTP packet: what the link carries beyond the packet.
    static let packetOverhead = 28 + 16

    /// Applies the relay's publish answer before the connection connects: the transport-wide
    /// sequence number under `transportWideID` (the answer kept it; the congestion controller then
    /// follows the feedback), the simulcast layers it accepted (the others are dropped; without
    /// simulcast the top layer is sent alone), and RTX for probing.
    public func applyAnswer(transportWideID: UInt8?, simulcastLayers: [String], repair: Bool) {
        guard statistics.videoPacketsSent + statistics.audioPacketsSent == 0 else { return }
        if layers.count > 1 {
            let accepted = layers.filter { simulcastLayers.contains($0.rid ?? "") }
            layers = accepted.isEmpty ? [layers[layers.count - 1]] : accepted
        }
        canPad = repair && transportWideID != nil
        stampsTransportSequence = transportWideID != nil
        let simulcast = layers.count > 1
        for (index, layer) in layers.enumerated() {
            layer.sender = Self.videoSender(ssrc: layer.ssrc, rid: simulcast ? layer.rid : nil, transportWideSequenceID: transportWideID)
            guard repair else { continue }
            // A repair stream names the layer it repairs (repaired RID), or the section (mid) when
            // its SSRC is not in the offer's FID group.
            var fixed = [RTPStreamSender.FixedExtension(id: ClientNegotiation.midExtensionID, value: "0")]
            if simulcast, let rid = layer.rid { fixed.append(.init(id: ClientNegotiation.repairedRIDExtensionID, value: rid)) }
            layer.repair = RTPStreamSender(configuration: .init(
                ssrc: SSRC(index == 0 ? repairSSRC : UInt32.random(in: 1...UInt32.max)),
                payloadType: PayloadType(ClientNegotiation.repairPayloadType), clockRate: 90_000,
                transportWideSequenceID: transportWideID, fixedExtensions: fixed))
        }
        audioSender = Self.audioSender(ssrc: audioSSRC, transportWideSequenceID: transportWideID)
        if transportWideID != nil, source.video != nil, layers.contains(where: { $0.encoder != nil }) {
            let ceiling = (configuredVideoKbps + Self.audioKbps(high: true)) * 1000
            // Start modestly and probe up (3x, 6x, then further): a poor uplink is not flooded.
            congestion = SendSideBandwidthEstimator(configuration: .init(
                startBitrate: min(ceiling, 1_000_000), minBitrate: 150_000, maxBitrate: ceiling))
            pacer = PacingBudget(targetBitrate: min(ceiling, 1_000_000))
            try? opus?.setBitrate(Self.audioKbps(high: true) * 1000)
            applyTarget(now: ClientConnection.now())
        }
    }

    /// Opus's share: 32 kbit/s, 16 when the estimate is under 300 kbit/s.
    static func audioKbps(high: Bool) -> Int { high ? 32 : 16 }

    /// The controller's target split between the encoders: audio first, video the rest (less 5%
    /// for the packets' overhead), lowest layer first up to each layer's maximum; a higher layer
    /// that would get under 20% of its maximum is paused at once, and resumes (on a keyframe) once
    /// 30% of its maximum has fitted for 1.5 s, then climbs to its maximum over 2 s. An encoder
    /// is reconfigured when its rate moves by more than 5%.
    private func applyTarget(now: Instant) {
        guard let congestion else { return }
        let target = congestion.targetBitrate
        let audio = Self.audioKbps(high: target >= 300_000)
        if let opus, opus.bitrate != audio * 1000 { try? opus.setBitrate(audio * 1000) }
        var remaining = min(max(Int(Double(target / 1000 - audio) * 0.95), 100), configuredVideoKbps)
        statistics.estimateKbps = target / 1000
        statistics.videoTargetKbps = remaining
        statistics.feedbackLoss = congestion.lossFraction
        statistics.probeClusters = congestion.probeClusters
        statistics.successfulProbes = congestion.successfulProbes
        if let probe = congestion.lastProbe {
            statistics.lastProbeKbps = probe.result.map { $0 / 1000 }
            statistics.estimateAtLastProbeKbps = probe.estimate / 1000
        }
        for (index, layer) in layers.enumerated() {
            guard let encoder = layer.encoder else { continue }
            let fits = index == 0 || remaining * 10 >= layer.maxKbps * (layer.active ? 2 : 3)
            if !fits {
                layer.active = false
                layer.fitsSince = nil
            } else if !layer.active {
                // A resumed layer starts with a keyframe, a burst: only once the room has held.
                let since = layer.fitsSince ?? now
                layer.fitsSince = since
                if now.since(since) >= .milliseconds(1500) {
                    layer.active = true
                    layer.forceKeyframe = true
                    layer.resumedAt = now
                }
            }
            layer.statistics.active = layer.active
            guard layer.active else { continue }
            var ceiling = layer.maxKbps
            if let resumed = layer.resumedAt {
                let seconds = Double(now.nanoseconds(since: resumed)) / 1e9
                if seconds < 2 { ceiling = Int(Double(ceiling) * (0.3 + 0.35 * seconds)) } else { layer.resumedAt = nil }
            }
            let rate = max(min(remaining, ceiling), 50)
            remaining -= rate
            layer.statistics.targetKbps = rate
            guard abs(rate - encoder.bitrateKbps) * 20 > encoder.bitrateKbps else { continue }
            if (try? encoder.setBitrate(kbps: rate)) != nil { statistics.encoderRateChanges += 1 }
        }
    }

    private static func videoSender(ssrc: UInt32, rid: String?, transportWideSequenceID id: UInt8?) -> RTPStreamSender {
        // A simulcast layer names itself with the mid and its RID in every packet (the relay learns
        // the SSRC from them; browsers stop once acknowledged, which the relay does not need).
        let fixed: [RTPStreamSender.FixedExtension] = rid.map {
            [.init(id: ClientNegotiation.midExtensionID, value: "0"), .init(id: ClientNegotiation.ridExtensionID, value: $0)]
        } ?? []
        return RTPStreamSender(configuration: .init(
            ssrc: SSRC(ssrc), payloadType: PayloadType(ClientNegotiation.videoPayloadType), clockRate: 90_000,
            transportWideSequenceID: id, fixedExtensions: fixed))
    }

    private static func audioSender(ssrc: UInt32, transportWideSequenceID id: UInt8?) -> RTPStreamSender {
        RTPStreamSender(configuration: .init(
            ssrc: SSRC(ssrc), payloadType: PayloadType(ClientNegotiation.audioPayloadType), clockRate: 48_000, transportWideSequenceID: id))
    }

    /// The next transport-wide number, or nil when the extension is not in use.
    private func nextTransportSequence() -> UInt16? {
        guard stampsTransportSequence else { return nil }
        defer { transportSequence &+= 1 }
        return transportSequence
    }

    /// Notes a packet of `length` bytes for the controller (with the probe cluster it falls in)
    /// and sends it from `connection.transmit`.
    private func send(length: Int, transportSequence sequence: UInt16?, now: Instant) {
        if let sequence {
            if let probe = activeProbe, now > probe.end { activeProbe = nil }
            congestion?.packetSent(sequence: SequenceNumber(sequence), bytes: length + Self.packetOverhead, at: now, probeCluster: activeProbe?.id)
        }
        connection.sendRTP(length: length)
        record(bytes: length, now: now)
    }

    /// Counts `bytes` sent at `now` in the report's rates.
    private func record(bytes: Int, now: Instant) {
        statistics.bytesSent += bytes
        bytesThisSecond += bytes
        guard let connectedAt else { return }
        let slot = Int(now.nanoseconds(since: connectedAt) / 100_000_000)
        guard slot < 6000 else { return }
        if statistics.bytesPer100ms.count <= slot {
            statistics.bytesPer100ms.append(contentsOf: repeatElement(0, count: slot + 1 - statistics.bytesPer100ms.count))
        }
        statistics.bytesPer100ms[slot] += bytes
    }

    /// Queues the packet in `connection.transmit` for the pacer, or sends it at once without one;
    /// `sequenceOffset` is where its transport-wide number goes.
    private func enqueue(length: Int, sequenceOffset: Int?, layer: VideoLayer?, now: Instant) {
        guard pacer != nil else {
            let sequence = stampTransportSequence(at: sequenceOffset, length: length)
            send(length: length, transportSequence: sequence, now: now)
            layer?.sent(bytes: length)
            return
        }
        paced.append((Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(connection.transmit)[0..<length])), sequenceOffset, layer))
        pacedBytes += length
    }

    /// Writes the next transport-wide number into the packet in `connection.transmit`.
    private func stampTransportSequence(at offset: Int?, length: Int) -> UInt16? {
        guard let offset, offset + 2 <= length, let sequence = nextTransportSequence() else { return nil }
        connection.transmit[offset] = UInt8(sequence >> 8)
        connection.transmit[offset + 1] = UInt8(truncatingIfNeeded: sequence)
        return sequence
    }

    /// Sends what the pacer allows now, and comes back when it allows more.
    private func drainPacer() {
        guard var pacer, let congestion, connection.isConnected, !stopped else { return }
        let now = ClientConnection.now()
        pacer.update(targetBitrate: congestion.targetBitrate, queuedBytes: pacedBytes)
        while pacedHead < paced.count, pacer.mayRelease(now: now) {
            let entry = paced[pacedHead]
            pacedHead += 1
            pacedBytes -= entry.bytes.count
            connection.transmit.copyBytes(from: entry.bytes)
            let sequence = stampTransportSequence(at: entry.sequenceOffset, length: entry.bytes.count)
            send(length: entry.bytes.count, transportSequence: sequence, now: now)
            entry.layer?.sent(bytes: entry.bytes.count)
            pacer.sent(bytes: entry.bytes.count + Self.packetOverhead)
        }
        if pacedHead == paced.count {
            paced.removeAll(keepingCapacity: true)
            pacedHead = 0
        }
        self.pacer = pacer
        guard pacedHead < paced.count, !drainScheduled else { return }
        drainScheduled = true
        let delay = pacer.delayUntilNext()
        let micros = max(delay.components.seconds * 1_000_000 + delay.components.attoseconds / 1_000_000_000_000, 500)
        let this = NIOLoopBound(self, eventLoop: connection.eventLoop)
        connection.eventLoop.scheduleTask(in: .microseconds(micros)) {
            this.value.drainScheduled = false
            this.value.drainPacer()
        }
    }

    // MARK: ClientConnectionDelegate

    public func connectionConnected(_ connection: ClientConnection) {
        let start = NIODeadline.now()
        connectedAt = ClientConnection.now()
        statistics.connectedAtWallMicros = WallClock.microseconds()
        if source.video != nil {
            scheduleVideo(start: start, interval: .nanoseconds(1_000_000_000 / Int64(max(fps, 1))), index: 0)
        }
        if source.audio != nil { scheduleAudio(start: start, index: 0) }
    }

    // Media clocks run on absolute deadlines (start + n × interval), so the time spent encoding a
    // frame does not stretch the frame interval.
    private func scheduleVideo(start: NIODeadline, interval: TimeAmount, index: Int64) {
        guard !stopped else { return }
        let this = NIOLoopBound(self, eventLoop: connection.eventLoop)
        videoTask = connection.eventLoop.scheduleTask(deadline: start + interval * index) {
            this.value.sendVideoFrame()
            // A frame that could not be made in time is skipped rather than sent in a burst.
            var next = index + 1
            while start + interval * next < NIODeadline.now() - interval { next += 1 }
            this.value.scheduleVideo(start: start, interval: interval, index: next)
        }
    }

    private func scheduleAudio(start: NIODeadline, index: Int64) {
        guard !stopped else { return }
        let this = NIOLoopBound(self, eventLoop: connection.eventLoop)
        audioTask = connection.eventLoop.scheduleTask(deadline: start + .milliseconds(20) * index) {
            this.value.sendAudioFrame()
            this.value.scheduleAudio(start: start, index: index + 1)
        }
    }

    public func connection(_ connection: ClientConnection, receivedRTP packet: UnsafeMutableRawBufferPointer, now: Instant) {}

    public func connection(_ connection: ClientConnection, receivedRTCP compound: UnsafeRawBufferPointer, now: Instant) {
        var cursor = RTCPCompoundIterator(compound)
        while let packet = try? cursor.next() {
            switch (packet.packetType, packet.format) {
            case (RTCPPacketType.transportFeedback, RTCPFeedbackFormat.genericNACK):
                guard let nack = try? GenericNACKView(packet) else { continue }
                statistics.nacksReceived += 1
                let layer = layers.first { $0.ssrc == nack.mediaSSRC.rawValue }
                for sequence in nack.lostSequenceNumbers {
                    guard mayRetransmit(sequence, layer: layer, now: now) else {
                        statistics.retransmissionsSkipped += 1
                        continue
                    }
                    let resent = layer != nil ? layer?.sender.retransmission(of: sequence, now: now) : audioSender.retransmission(of: sequence, now: now)
                    guard let bytes = resent, bytes.count <= ClientConnection.scratchSize - 32 else { continue }
                    if let layer, layer.repair != nil {
                        resendOnRepairStream(bytes, layer: layer, now: now)
                    } else {
                        connection.transmit.copyBytes(from: bytes)
                        // Byte-identical: it repeats its transport-wide number, which the relay reports again.
                        connection.sendRTP(length: bytes.count)
                        repairBytesInWindow += bytes.count
                        record(bytes: bytes.count, now: now)
                    }
                    statistics.retransmissions += 1
                }
            case (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.pictureLossIndication):
                statistics.keyframeRequestsReceived += 1
                requestKeyframe(ssrcs: (try? PictureLossIndicationView(packet)).map { [$0.mediaSSRC.rawValue] } ?? [])
            case (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.fullIntraRequest):
                statistics.keyframeRequestsReceived += 1
                let fir = try? FullIntraRequestView(packet)
                requestKeyframe(ssrcs: fir.map { view in (0..<view.entryCount).map { view.entry(at: $0).ssrc.rawValue } } ?? [])
            case (RTCPPacketType.transportFeedback, RTCPFeedbackFormat.transportWideCC):
                guard let feedback = try? TransportFeedbackView(packet) else { continue }
                statistics.transportFeedbackReceived += 1
                congestion?.receivedFeedback(feedback, at: now)
                applyTarget(now: now)
                startProbeIfDue(now: now)
            case (RTCPPacketType.receiverReport, _):
                guard let rr = try? ReceiverReportView(packet) else { continue }
                for index in 0..<rr.reportBlockCount {
                    let block = rr.reportBlock(at: index)
                    if block.ssrc.rawValue == videoSSRC {
                        statistics.relayReportedLoss = Double(block.fractionLost) / 256
                    }
                }
            default:
                continue
            }
        }
    }

    /// Retransmission budget: a packet at most once per 100 ms, and repairs within half the
    /// congestion target over each 100 ms (libwebrtc's sender limits its NACK answers alike).
    private func mayRetransmit(_ sequence: SequenceNumber, layer: VideoLayer?, now: Instant) -> Bool {
        if now.since(repairWindowStart) >= .milliseconds(100) {
            repairWindowStart = now
            repairBytesInWindow = 0
        }
        if let congestion, repairBytesInWindow * 8 * 10 * 2 > congestion.targetBitrate { return false }
        guard let layer else { return true }
        if let last = layer.resentAt[sequence.rawValue], now.since(last) < .milliseconds(100) { return false }
        if layer.resentAt.count > 2048 { layer.resentAt = layer.resentAt.filter { now.since($0.value) < .seconds(1) } }
        layer.resentAt[sequence.rawValue] = now
        return true
    }

    /// Resends a packet on the layer's RTX stream (RFC 4588 §4): the original sequence number
    /// leads the original payload, under the repair stream's own SSRC, sequence number and a new
    /// transport-wide number (so the relay's feedback reports it as the packet it is, and SRTP sees
    /// a new packet instead of a replay).
    private func resendOnRepairStream(_ original: [UInt8], layer: VideoLayer, now: Instant) {
        guard var repair = layer.repair else { return }
        original.withUnsafeBytes { bytes in
            guard let view = try? RTPPacketView(parsing: bytes) else { return }
            var payload = [UInt8](repeating: 0, count: 2 + view.payloadLength)
            payload[0] = UInt8(view.sequenceNumber.rawValue >> 8)
            payload[1] = UInt8(truncatingIfNeeded: view.sequenceNumber.rawValue)
            for index in 0..<view.payloadLength { payload[2 + index] = view.payload[index] }
            guard let length = payload.withUnsafeBytes({ payload in
                try? repair.write(
                    payload: payload, marker: view.marker, rtpTimestamp: view.timestamp, now: now, into: connection.transmit)
            }) else { return }
            enqueue(length: length, sequenceOffset: repair.transportSequenceOffset, layer: nil, now: now)
            repairBytesInWindow += length
        }
        layer.repair = repair
        drainPacer()
    }

    /// A keyframe on the layers asked for (the relay asks per layer), on all when none matches.
    private func requestKeyframe(ssrcs: [UInt32]) {
        let asked = layers.filter { ssrcs.contains($0.ssrc) }
        for layer in asked.isEmpty ? layers : asked { layer.forceKeyframe = true }
    }

    public func connection(_ connection: ClientConnection, tick now: Instant) {
        guard connection.isConnected else { return }
        startProbeIfDue(now: now)
        if now.since(lastSecond) >= .seconds(1) {
            lastSecond = now
            statistics.sentKbps = bytesThisSecond * 8 / 1000
            bytesThisSecond = 0
            for layer in layers { layer.closeSecond() }
            statistics.layers = layers.map(\.statistics)
        }
        guard now.since(lastSenderReport) >= .seconds(1) else { return }
        lastSenderReport = now
        let ntp = NTPTime.now()
        var writer = ByteWriter(connection.transmit)
        do {
            for layer in layers where layer.active && source.video != nil {
                try layer.sender.senderReport(now: now, ntpTimestamp: ntp).serialize(into: &writer)
            }
            if source.audio != nil { try audioSender.senderReport(now: now, ntpTimestamp: ntp).serialize(into: &writer) }
        } catch {
            return
        }
        connection.sendRTCP(length: writer.position)
    }

    public func connection(_ connection: ClientConnection, closed reason: String) {
        closedReason = reason
        stop()
    }

    public func stop() {
        stopped = true
        videoTask?.cancel()
        audioTask?.cancel()
    }

    // MARK: Probing

    /// Padding bytes per probe packet (RFC 3550 allows 255).
    static let paddingBytes = 255

    /// Starts the controller's next probe cluster, if it wants one: padding on RTX makes up the
    /// difference between the cluster's rate and the media's, paced in 2 ms slices over the
    /// cluster's duration; media sent meanwhile belongs to the cluster too.
    private func startProbeIfDue(now: Instant) {
        guard canPad, activeProbe == nil, !stopped, var congestion = self.congestion,
              let cluster = congestion.probeToSend(now: now) else { return }
        self.congestion = congestion
        let duration = cluster.duration
        activeProbe = (cluster.id, now + duration)
        let micros = Int64(duration.components.seconds) * 1_000_000 + Int64(duration.components.attoseconds / 1_000_000_000_000)
        // Padding makes up the difference between the cluster's rate and what was really sent over
        // the last second (not the target: an encoder under it would leave the cluster short).
        let media = statistics.sentKbps * 1000
        let paddingRate = max(cluster.bitrate - media, cluster.bitrate / 4)
        let packetBytes = Self.paddingBytes + 36 + Self.packetOverhead
        let count = max(cluster.minPackets, Int(Int64(paddingRate) * micros / 8_000_000) / packetBytes)
        let slices = max(Int(micros / 2_000), 1)
        let this = NIOLoopBound(self, eventLoop: connection.eventLoop)
        for slice in 0..<slices {
            let share = count * (slice + 1) / slices - count * slice / slices
            guard share > 0 else { continue }
            connection.eventLoop.scheduleTask(in: .microseconds(Int64(slice) * 2_000)) {
                this.value.sendPadding(packets: share, cluster: cluster.id)
            }
        }
    }

    private func sendPadding(packets: Int, cluster: Int) {
        guard connection.isConnected, !stopped, let layer = layers.first, var repairSender = layer.repair else { return }
        defer { layer.repair = repairSender }
        let now = ClientConnection.now()
        let rtpTimestamp = repairSender.rtpTimestamp(at: now)
        for _ in 0..<packets {
            let sequence = nextTransportSequence()
            guard let length = try? repairSender.writePadding(
                paddingBytes: Self.paddingBytes, rtpTimestamp: rtpTimestamp, now: now, transportSequence: sequence,
                into: connection.transmit) else { return }
            if let sequence {
                congestion?.packetSent(sequence: SequenceNumber(sequence), bytes: length + Self.packetOverhead, at: now, probeCluster: cluster)
            }
            connection.sendRTP(length: length)
            record(bytes: length, now: now)
            statistics.paddingPacketsSent += 1
        }
    }

    // MARK: Sending

    private func sendVideoFrame() {
        guard connection.isConnected else { return }
        let now = ClientConnection.now()
        for layer in layers where layer.active {
            let rtpTimestamp = layer.sender.rtpTimestamp(at: now)
            var encoded: [EncodedFrame] = []
            switch source.video {
            case .pattern:
                guard let encoder = layer.encoder, let pattern = layer.pattern, layer.frame != nil else { continue }
                // Rendered in place: taking the frame out of the layer first would copy its planes (CoW).
                pattern.render(into: &layer.frame!, frame: frameNumber, captureMicros: WallClock.microseconds())
                let before = ClientConnection.now()
                // pts in 90 kHz ticks: libvpx's rate control reads time from it.
                encoded = (try? encoder.encode(layer.frame!, pts: layer.encodedFrames * Int64(90_000 / max(fps, 1)), forceKeyframe: layer.forceKeyframe)) ?? []
                layer.encodedFrames += 1
                encodeNanoseconds += ClientConnection.now().since(before).nanosecondsClamped
            case .frames(let frames, _):
                guard !frames.isEmpty else { return }
                let data = frames[Int(frameNumber % UInt64(frames.count))]
                encoded = [EncodedFrame(data: data, isKeyframe: (data.first ?? 1) & 1 == 0)]
            case nil:
                return
            }
            for frame in encoded {
                if frame.isKeyframe {
                    layer.forceKeyframe = false
                    statistics.videoKeyframesSent += 1
                }
                frame.data.withUnsafeBytes { bytes in
                    layer.packetizer.packetize(bytes, temporalLayer: frame.temporalLayer, layerSync: frame.layerSync) { payload, marker in
                        guard let length = try? layer.sender.write(
                            payload: payload, marker: marker, rtpTimestamp: rtpTimestamp, now: now, into: connection.transmit),
                              length > 0 else { return }
                        enqueue(length: length, sequenceOffset: layer.sender.transportSequenceOffset, layer: layer, now: now)
                        statistics.videoPacketsSent += 1
                    }
                }
                layer.statistics.framesSent += 1
                statistics.videoFramesSent += 1
            }
        }
        frameNumber += 1
        drainPacer()
        if statistics.videoFramesSent > 0 {
            statistics.meanEncodeMilliseconds = Double(encodeNanoseconds) / 1e6 / Double(statistics.videoFramesSent)
        }
    }

    private func sendAudioFrame() {
        guard connection.isConnected else { return }
        let now = ClientConnection.now()
        let packet: [UInt8]
        switch source.audio {
        case .tone:
            guard let opus, let encoded = try? opus.encode(pcm: tone.nextFrame()) else { return }
            packet = encoded
        case .packets(let packets):
            guard !packets.isEmpty else { return }
            packet = packets[audioIndex % packets.count]
            audioIndex += 1
        case nil:
            return
        }
        let rtpTimestamp = audioSender.rtpTimestamp(at: now)
        let sequence = nextTransportSequence()
        let length = packet.withUnsafeBytes { bytes in
            (try? audioSender.write(
                payload: bytes, marker: false, rtpTimestamp: rtpTimestamp, now: now, transportSequence: sequence,
                into: connection.transmit)) ?? 0
        }
        guard length > 0 else { return }
        send(length: length, transportSequence: sequence, now: now)
        statistics.audioPacketsSent += 1
    }
}

/// Wall-clock time, shared by processes on one machine: the capture time in the test pattern.
public enum WallClock {
    public static func microseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
    }
}

/// NTP timestamps (RFC 3550 §4) for sender reports.
public enum NTPTime {
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let seconds = UInt64(spec.tv_sec) + 2_208_988_800
        let fraction = (UInt64(spec.tv_nsec) << 32) / 1_000_000_000
        return seconds << 32 | fraction
    }

    /// An NTP timestamp as microseconds since 1970.
    public static func unixMicroseconds(_ ntp: UInt64) -> Int64 {
        let seconds = Int64(ntp >> 32) - 2_208_988_800
        let micros = Int64(((ntp & 0xFFFF_FFFF) * 1_000_000) >> 32)  // parenthesised: >> binds tighter than *  in Swift
        return seconds * 1_000_000 + micros
    }
}
