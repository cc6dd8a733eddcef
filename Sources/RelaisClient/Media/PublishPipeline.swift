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

    public init(video: Video?, audio: Audio?) {
        self.video = video
        self.audio = audio
    }
}

/// Sender-side counters, for the report.
public struct PublishStatistics: Sendable, Codable, Equatable {
    public var videoFramesSent = 0
    public var videoKeyframesSent = 0
    public var videoPacketsSent = 0
    public var audioPacketsSent = 0
    public var bytesSent = 0
    public var retransmissions = 0
    public var keyframeRequestsReceived = 0
    public var nacksReceived = 0
    /// Transport-wide congestion feedback packets (TWCC) received from the relay.
    public var transportFeedbackReceived = 0
    /// The congestion controller's target (kbit/s) and the video encoder's bitrate it set, when
    /// the relay sends transport-wide feedback; the encoder changes it made; the loss the
    /// feedback showed (0...1).
    public var estimateKbps: Int?
    public var videoTargetKbps: Int?
    public var encoderRateChanges = 0
    public var feedbackLoss: Double?
    /// Encode time per video frame, milliseconds (mean).
    public var meanEncodeMilliseconds = 0.0
    /// Loss the relay reports for our video (its receiver reports), fraction 0...1.
    public var relayReportedLoss: Double?
}

/// The publish connection's media: encode, packetize, send; answer NACK with retransmissions
/// and PLI/FIR with a keyframe; send sender reports. Confined to the connection's event loop.
public final class PublishPipeline: ClientConnectionDelegate {
    let connection: ClientConnection
    let source: PublishSource
    public let videoSSRC: UInt32
    public let audioSSRC: UInt32
    private var videoSender: RTPStreamSender
    private var audioSender: RTPStreamSender
    private var packetizer = VP8Packetizer()
    private var encoder: VP8Encoder?
    private var pattern: TestPattern?
    private var frame: I420Frame?
    private var opus: OpusEncoder?
    private var tone = ToneGenerator()
    private var frameNumber: UInt64 = 0
    private var audioIndex = 0
    private var forceKeyframe = true
    /// The video bitrate asked for on the command line: the congestion controller's ceiling.
    private var configuredVideoKbps = 0
    private var videoTask: Scheduled<Void>?
    private var audioTask: Scheduled<Void>?
    private var stopped = false
    private var lastSenderReport = Instant.zero
    private var encodeNanoseconds: UInt64 = 0
    public private(set) var statistics = PublishStatistics()
    public private(set) var closedReason: String?
    let started: Instant

    public init(connection: ClientConnection, source: PublishSource) throws {
        self.connection = connection
        self.source = source
        self.videoSSRC = UInt32.random(in: 1...UInt32.max)
        self.audioSSRC = UInt32.random(in: 1...UInt32.max)
        // No abs-send-time: a retransmission on the original SSRC must be byte-identical (same SRTP
        // index, same AEAD nonce), so nothing may be rewritten in it. The transport-wide sequence
        // number is stamped once the relay's answer agrees (`stampTransportWideSequence`); a
        // retransmission repeats its packet's number, which the relay reports again.
        (self.videoSender, self.audioSender) = Self.senders(video: videoSSRC, audio: audioSSRC, transportWideSequenceID: nil)
        if case .pattern(let width, let height, let fps, let kbps) = source.video {
            encoder = try VP8Encoder(width: width, height: height, fps: fps, bitrateKbps: kbps)
            configuredVideoKbps = kbps
            pattern = TestPattern(width: width, height: height)
            frame = I420Frame(width: width, height: height)
        }
        if case .tone = source.audio { opus = try OpusEncoder(channels: 1) }
        started = ClientConnection.now()
        connection.delegate = self
    }

    /// The transport-wide sequence number shared by both streams of the connection.
    private var transportSequence: UInt16 = 0
    private var stampsTransportSequence = false
    /// The send-side congestion controller (GCC, `RelaisCongestion`), fed by the relay's
    /// transport-wide feedback; it sets the encoders' bitrates, never above the configured video
    /// bitrate.
    private var congestion: SendSideBandwidthEstimator?
    /// UDP/IP and SRTP bytes around each RTP packet: what the link carries beyond the packet.
    static let packetOverhead = 28 + 16

    /// Stamps every packet with the transport-wide sequence number under `id` (the relay's answer
    /// kept it) and starts the congestion controller on the feedback that follows. Call before the
    /// connection connects: the streams are remade with the extension.
    public func stampTransportWideSequence(id: UInt8) {
        guard !stampsTransportSequence, statistics.videoPacketsSent + statistics.audioPacketsSent == 0 else { return }
        stampsTransportSequence = true
        (videoSender, audioSender) = Self.senders(video: videoSSRC, audio: audioSSRC, transportWideSequenceID: id)
        if let encoder {
            let ceiling = (encoder.bitrateKbps + Self.audioKbps(high: true)) * 1000
            congestion = SendSideBandwidthEstimator(configuration: .init(startBitrate: ceiling, minBitrate: 150_000, maxBitrate: ceiling))
            try? opus?.setBitrate(Self.audioKbps(high: true) * 1000)
        }
    }

    /// Opus's share: 32 kbit/s, 16 when the estimate is under 300 kbit/s.
    static func audioKbps(high: Bool) -> Int { high ? 32 : 16 }

    /// The controller's target split between the encoders: audio first, video the rest (less the
    /// packets' overhead), within 100 kbit/s and the configured bitrate; the video encoder is
    /// reconfigured when its rate moves by more than 5%.
    private func applyTarget() {
        guard let congestion, let encoder else { return }
        let target = congestion.targetBitrate
        let audio = Self.audioKbps(high: target >= 300_000)
        if let opus, opus.bitrate != audio * 1000 { try? opus.setBitrate(audio * 1000) }
        let video = min(max(Int(Double(target / 1000 - audio) * 0.95), 100), configuredVideoKbps)
        statistics.estimateKbps = target / 1000
        statistics.videoTargetKbps = video
        statistics.feedbackLoss = congestion.lossFraction
        guard abs(video - encoder.bitrateKbps) * 20 > encoder.bitrateKbps else { return }
        if (try? encoder.setBitrate(kbps: video)) != nil { statistics.encoderRateChanges += 1 }
    }

    /// The connection's video and audio streams, stamping the transport-wide sequence number under
    /// `transportWideSequenceID` when there is one.
    private static func senders(
        video: UInt32, audio: UInt32, transportWideSequenceID id: UInt8?
    ) -> (video: RTPStreamSender, audio: RTPStreamSender) {
        (RTPStreamSender(configuration: .init(
            ssrc: SSRC(video), payloadType: PayloadType(ClientNegotiation.videoPayloadType), clockRate: 90_000, transportWideSequenceID: id)),
         RTPStreamSender(configuration: .init(
            ssrc: SSRC(audio), payloadType: PayloadType(ClientNegotiation.audioPayloadType), clockRate: 48_000, transportWideSequenceID: id)))
    }

    /// The next transport-wide number, or nil when the extension is not in use.
    private func nextTransportSequence() -> UInt16? {
        guard stampsTransportSequence else { return nil }
        defer { transportSequence &+= 1 }
        return transportSequence
    }

    // MARK: ClientConnectionDelegate

    public func connectionConnected(_ connection: ClientConnection) {
        let start = NIODeadline.now()
        switch source.video {
        case .pattern(_, _, let fps, _), .frames(_, let fps):
            scheduleVideo(start: start, interval: .nanoseconds(1_000_000_000 / Int64(max(fps, 1))), index: 0)
        case nil:
            break
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
                for sequence in nack.lostSequenceNumbers {
                    let isVideo = nack.mediaSSRC.rawValue == videoSSRC
                    let resent = isVideo ? videoSender.retransmission(of: sequence, now: now) : audioSender.retransmission(of: sequence, now: now)
                    guard let bytes = resent, bytes.count <= ClientConnection.scratchSize - 32 else { continue }
                    connection.transmit.copyBytes(from: bytes)
                    connection.sendRTP(length: bytes.count)
                    statistics.retransmissions += 1
                }
            case (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.pictureLossIndication),
                 (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.fullIntraRequest):
                statistics.keyframeRequestsReceived += 1
                forceKeyframe = true
            case (RTCPPacketType.transportFeedback, RTCPFeedbackFormat.transportWideCC):
                guard let feedback = try? TransportFeedbackView(packet) else { continue }
                statistics.transportFeedbackReceived += 1
                congestion?.receivedFeedback(feedback, at: now)
                applyTarget()
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

    public func connection(_ connection: ClientConnection, tick now: Instant) {
        guard connection.isConnected, now.since(lastSenderReport) >= .seconds(1) else { return }
        lastSenderReport = now
        let ntp = NTPTime.now()
        var writer = ByteWriter(connection.transmit)
        do {
            if source.video != nil { try videoSender.senderReport(now: now, ntpTimestamp: ntp).serialize(into: &writer) }
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

    // MARK: Sending

    private func sendVideoFrame() {
        guard connection.isConnected else { return }
        let now = ClientConnection.now()
        let rtpTimestamp = videoSender.rtpTimestamp(at: now)
        var encoded: [EncodedFrame] = []
        switch source.video {
        case .pattern:
            guard let encoder, let pattern, self.frame != nil else { return }
            // Rendered in place: taking the frame out of `self` first would copy its planes (CoW).
            pattern.render(into: &self.frame!, frame: frameNumber, captureMicros: WallClock.microseconds())
            let before = ClientConnection.now()
            // pts in 90 kHz ticks: libvpx's rate control reads time from it.
            encoded = (try? encoder.encode(self.frame!, pts: Int64(frameNumber) * Int64(90_000 / max(encoder.fps, 1)), forceKeyframe: forceKeyframe)) ?? []
            encodeNanoseconds += ClientConnection.now().since(before).nanosecondsClamped
        case .frames(let frames, _):
            guard !frames.isEmpty else { return }
            let data = frames[Int(frameNumber % UInt64(frames.count))]
            encoded = [EncodedFrame(data: data, isKeyframe: (data.first ?? 1) & 1 == 0)]
        case nil:
            return
        }
        frameNumber += 1
        for frame in encoded {
            if frame.isKeyframe {
                forceKeyframe = false
                statistics.videoKeyframesSent += 1
            }
            let payloads = packetizer.packetize(frame.data)
            for (index, payload) in payloads.enumerated() {
                let sequence = nextTransportSequence()
                let length = payload.withUnsafeBytes { bytes in
                    (try? videoSender.write(
                        payload: bytes, marker: index == payloads.count - 1, rtpTimestamp: rtpTimestamp, now: now,
                        transportSequence: sequence, into: connection.transmit)) ?? 0
                }
                guard length > 0 else { continue }
                if let sequence { congestion?.packetSent(sequence: SequenceNumber(sequence), bytes: length + Self.packetOverhead, at: now) }
                connection.sendRTP(length: length)
                statistics.videoPacketsSent += 1
                statistics.bytesSent += length
            }
            statistics.videoFramesSent += 1
        }
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
        if let sequence { congestion?.packetSent(sequence: SequenceNumber(sequence), bytes: length + Self.packetOverhead, at: now) }
        connection.sendRTP(length: length)
        statistics.audioPacketsSent += 1
        statistics.bytesSent += length
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
