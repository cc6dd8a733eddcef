import Foundation
import NIOCore
public import RelaisMedia
import RelaisReceive
public import RelaisWire

/// What a receiver measured on one track, for the report.
public struct TrackReport: Sendable, Codable, Equatable {
    public var trackId: String?
    public var kind: String
    public var codec: String
    public var stream: StreamStatisticsSnapshot
    /// Frames whose test-pattern counter was read back, and counter steps that skipped frames.
    public var patternFramesRead = 0
    public var patternCounterGaps = 0
    public var patternFramesMissing = 0
    public var framesDecodeFailed = 0
    /// Seconds from the first decoded frame to this report: the span frame rates are judged over.
    public var secondsSinceFirstFrame: Double?
    /// Frames decoded per second over that span.
    public var meanFramesPerSecond: Double?
    public var nacksSent = 0
    public var keyframeRequestsSent = 0
}

/// The subscribe connection's media: jitter buffers, depacketization and decoding, NACK and PLI,
/// receiver reports, and per-track statistics. Confined to the connection's event loop.
public final class SubscribePipeline: ClientConnectionDelegate {
    final class VideoTrack {
        let section: ReceivedSection
        var buffer: JitterBuffer
        var statistics: StreamStatistics
        var decoder: VP8Decoder?
        var report: TrackReport
        var lastCounter: UInt64?
        /// The sender's NTP (as Unix µs) and RTP time of its latest sender report, translated by the
        /// relay (RFC 3550 §6.4.1): maps an RTP timestamp to the sender's wall clock.
        var senderClock: (unixMicros: Int64, rtp: UInt32)?
        var lastKeyframeRequest = Instant.zero
        var lost: [SequenceNumber] = []

        init(section: ReceivedSection, start: Instant, decode: Bool) {
            self.section = section
            self.buffer = JitterBuffer()
            var configuration = StreamStatistics.Configuration()
            configuration.expectedFrameInterval = .milliseconds(33)
            self.statistics = StreamStatistics(ssrc: SSRC(section.ssrc), clockRate: 90_000, start: start, configuration: configuration)
            self.decoder = decode ? try? VP8Decoder() : nil
            self.report = TrackReport(trackId: section.trackId, kind: "video", codec: section.codec, stream: statistics.snapshot(now: start))
        }
    }

    final class AudioTrack {
        let section: ReceivedSection
        var buffer = AudioPlayoutBuffer()
        var statistics: StreamStatistics
        var decoder: OpusDecoder?
        var report: TrackReport

        init(section: ReceivedSection, start: Instant, decode: Bool) {
            self.section = section
            self.statistics = StreamStatistics(ssrc: SSRC(section.ssrc), clockRate: 48_000, start: start)
            self.decoder = decode ? try? OpusDecoder(channels: 2) : nil
            self.report = TrackReport(trackId: section.trackId, kind: "audio", codec: section.codec, stream: statistics.snapshot(now: start))
        }
    }

    let connection: ClientConnection
    let decode: Bool
    let relaySSRC = UInt32.random(in: 1...UInt32.max)
    private var video: [UInt32: VideoTrack] = [:]
    private var audio: [UInt32: AudioTrack] = [:]
    private var lastReport = Instant.zero
    /// When the subscription started (first subscribe offer), for time-to-first-frame.
    public let started: Instant
    public private(set) var closedReason: String?

    public init(connection: ClientConnection, decode: Bool, started: Instant) {
        self.connection = connection
        self.decode = decode
        self.started = started
        connection.delegate = self
    }

    /// The sections of the latest subscribe answer: new tracks start, removed ones end.
    public func update(sections: [ReceivedSection]) {
        for section in sections {
            switch section.kind {
            case .video where video[section.ssrc] == nil:
                video[section.ssrc] = VideoTrack(section: section, start: started, decode: decode)
            case .audio where audio[section.ssrc] == nil:
                audio[section.ssrc] = AudioTrack(section: section, start: started, decode: decode)
            default:
                break
            }
        }
    }

    public var reports: [TrackReport] {
        let now = ClientConnection.now()
        var all: [TrackReport] = []
        for track in video.values.sorted(by: { $0.section.mid < $1.section.mid }) {
            var report = track.report
            report.stream = track.statistics.snapshot(now: now)
            if let first = report.stream.timeToFirstFrameMilliseconds {
                let span = Double(now.since(started).nanosecondsClamped) / 1e9 - first / 1000
                report.secondsSinceFirstFrame = span
                if span > 0 { report.meanFramesPerSecond = Double(report.stream.framesDecoded) / span }
            }
            all.append(report)
        }
        for track in audio.values.sorted(by: { $0.section.mid < $1.section.mid }) {
            var report = track.report
            report.stream = track.statistics.snapshot(now: now)
            all.append(report)
        }
        return all
    }

    // MARK: ClientConnectionDelegate

    public func connectionConnected(_ connection: ClientConnection) {
        for track in video.values { requestKeyframe(track, now: ClientConnection.now()) }
    }

    public func connection(_ connection: ClientConnection, receivedRTP packet: UnsafeMutableRawBufferPointer, now: Instant) {
        guard let view = try? RTPPacketView(parsing: UnsafeRawBufferPointer(packet)) else { return }
        let ssrc = view.ssrc.rawValue
        if let track = video[ssrc] {
            track.statistics.recordPacket(sequence: view.sequenceNumber, rtpTimestamp: view.timestamp, bytes: packet.count, arrival: now)
            if !decode, view.marker, let clock = track.senderClock {
                // Without decoding there is no test pattern to read: the frame's RTP time, mapped
                // through the sender report, gives its capture time on the sender's clock.
                let ticks = Int64(Int32(bitPattern: view.timestamp &- clock.rtp))
                let capture = clock.unixMicros + ticks * 1_000_000 / 90_000
                track.statistics.recordLatency(captureMicroseconds: capture, decodeMicroseconds: Int64(WallClock.microseconds()))
            }
            _ = track.buffer.insert(RTPPacket(view), arrival: now)
            drainVideo(track, now: now)
        } else if let track = audio[ssrc] {
            track.statistics.recordPacket(sequence: view.sequenceNumber, rtpTimestamp: view.timestamp, bytes: packet.count, arrival: now)
            _ = track.buffer.insert(RTPPacket(view), arrival: now)
            drainAudio(track, now: now)
        }
    }

    private func drainVideo(_ track: VideoTrack, now: Instant) {
        while let frame = track.buffer.popFrame(now: now) {
            guard let assembled = try? VP8FrameAssembler.assemble(frame.packets) else {
                track.report.framesDecodeFailed += 1
                continue
            }
            if let decoder = track.decoder {
                guard let picture = try? decoder.decode(assembled.bytes) else {
                    track.report.framesDecodeFailed += 1
                    requestKeyframe(track, now: now)
                    continue
                }
                track.statistics.recordFrame(at: now)
                if let read = TestPattern.read(picture) {
                    track.report.patternFramesRead += 1
                    track.statistics.recordLatency(captureMicroseconds: Int64(read.captureMicros), decodeMicroseconds: Int64(WallClock.microseconds()))
                    if let last = track.lastCounter, read.frame > last + 1 {
                        track.report.patternCounterGaps += 1
                        track.report.patternFramesMissing += Int(read.frame - last - 1)
                    }
                    track.lastCounter = max(track.lastCounter ?? 0, read.frame)
                }
            } else {
                track.statistics.recordFrame(at: now)
            }
        }
        if track.buffer.needsKeyframe { requestKeyframe(track, now: now) }
    }

    private func drainAudio(_ track: AudioTrack, now: Instant) {
        while let output = track.buffer.pop(now: now) {
            switch output {
            case .packet(let packet):
                if let decoder = track.decoder { _ = try? decoder.decode(packet.payload) }
                track.statistics.recordFrame(at: now)
            case .lost:
                if let decoder = track.decoder { _ = try? decoder.decode(nil) }
            }
        }
    }

    private func requestKeyframe(_ track: VideoTrack, now: Instant) {
        guard connection.isConnected, now.since(track.lastKeyframeRequest) >= .milliseconds(300) else { return }
        track.lastKeyframeRequest = now
        var writer = ByteWriter(connection.transmit)
        do {
            try ReceiverReport(ssrc: SSRC(relaySSRC)).serialize(into: &writer)
            try PictureLossIndication(senderSSRC: SSRC(relaySSRC), mediaSSRC: SSRC(track.section.ssrc)).serialize(into: &writer)
        } catch {
            return
        }
        track.report.keyframeRequestsSent += 1
        connection.sendRTCP(length: writer.position)
    }

    public func connection(_ connection: ClientConnection, receivedRTCP compound: UnsafeRawBufferPointer, now: Instant) {
        // Sender reports give LSR/DLSR for our receiver reports.
        var cursor = RTCPCompoundIterator(compound)
        while let packet = try? cursor.next() {
            guard packet.packetType == RTCPPacketType.senderReport, let sr = try? SenderReportView(packet) else { continue }
            if let track = video[sr.ssrc.rawValue] {
                track.statistics.recordSenderReport(ntpTimestamp: sr.ntpTimestamp, arrival: now)
                track.senderClock = (NTPTime.unixMicroseconds(sr.ntpTimestamp), sr.rtpTimestamp)
            }
            if let track = audio[sr.ssrc.rawValue] { track.statistics.recordSenderReport(ntpTimestamp: sr.ntpTimestamp, arrival: now) }
        }
    }

    public func connection(_ connection: ClientConnection, tick now: Instant) {
        guard connection.isConnected else { return }
        for track in video.values {
            drainVideo(track, now: now)
            track.lost.removeAll(keepingCapacity: true)
            track.buffer.nacks(now: now, rtt: .milliseconds(20), into: &track.lost)
            if !track.lost.isEmpty { sendNACK(track) }
        }
        for track in audio.values { drainAudio(track, now: now) }
        if now.since(lastReport) >= .seconds(1) {
            lastReport = now
            var blocks: [ReportBlock] = []
            for track in video.values { blocks.append(track.statistics.makeReportBlock(now: now)) }
            for track in audio.values { blocks.append(track.statistics.makeReportBlock(now: now)) }
            var writer = ByteWriter(connection.transmit)
            let report = ReceiverReportBuilder.receiverReport(reporter: SSRC(relaySSRC), blocks: blocks)
            guard (try? report.serialize(into: &writer)) != nil else { return }
            connection.sendRTCP(length: writer.position)
        }
    }

    private func sendNACK(_ track: VideoTrack) {
        var writer = ByteWriter(connection.transmit)
        guard (try? ReceiverReport(ssrc: SSRC(relaySSRC)).serialize(into: &writer)) != nil else { return }
        var nack = GenericNACK(senderSSRC: SSRC(relaySSRC), mediaSSRC: SSRC(track.section.ssrc), sortedLost: track.lost)
        nack.pairs = Array(nack.pairs.prefix(200))  // one datagram's worth
        guard (try? nack.serialize(into: &writer)) != nil else { return }
        track.report.nacksSent += 1
        connection.sendRTCP(length: writer.position)
    }

    public func connection(_ connection: ClientConnection, closed reason: String) {
        closedReason = reason
    }
}
