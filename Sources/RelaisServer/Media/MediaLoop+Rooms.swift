import RelaisReceive
import RelaisSFU
import RelaisTransport
package import RelaisWire

/// The consultation-room media path: forwarding published RTP to subscribers, feedback between
/// them, and the relay's own reports. Runs on the loop; the scratch buffers are the loop's.
extension MediaLoop {
    // MARK: Registration

    func bindPurpose(id: TransportID, purpose: TransportPurpose) {
        switch purpose {
        case .echo:
            break
        case .publisher(let publisher):
            publisher.transport = id
            publisher.room.publishers[id] = publisher
        case .subscriber(let subscriber):
            subscriber.transport = id
            subscriber.room.subscribers[id] = subscriber
        }
    }

    func unbindPurpose(_ entry: TransportEntry, reason: String) {
        switch entry.purpose {
        case .echo:
            break
        case .publisher(let publisher):
            publisher.room.removePublisher(entry.id)
            publisher.room.events(.transportClosed(entry.id, reason: reason))
        case .subscriber(let subscriber):
            subscriber.room.removeSubscriber(entry.id)
            subscriber.room.events(.transportClosed(entry.id, reason: reason))
        }
    }

    /// The room's media state on this loop, created on first use. `name` is the room's
    /// `Room.mediaKey` (its consultation), never reused by a later room of the same name.
    package func room(named name: String, events: @escaping @Sendable (RoomMediaEvent) -> Void) -> RoomMedia {
        if let room = rooms[name] { return room }
        let room = RoomMedia(name: name, events: events)
        rooms[name] = room
        return room
    }

    /// A room ended: its remaining transports close and its media state goes with them, so that a
    /// later room under the same key starts with no producers and its own event sink.
    func removeRoom(_ key: String, reason: String) {
        guard let room = rooms[key] else { return }
        for id in Array(room.publishers.keys) + Array(room.subscribers.keys) { removeTransport(id, reason: reason) }
        rooms.removeValue(forKey: key)
    }

    /// Restarts ICE on a transport with fresh local credentials (JSEP §5.2.1, RFC 8445 §9).
    func restartICE(_ id: TransportID, local: ICECredentials, remoteUfrag: String) {
        guard let entry = entries[id] else { return }
        entry.transport.restartICE(local: local, remoteUfrag: remoteUfrag)
        reregister(id, ufrag: local.ufrag)
    }

    // MARK: Publisher RTP

    /// A decrypted RTP packet from a publisher is in `receive[0..<length]`.
    ///
    /// Statistics cost a few integer stores per packet: the producer counts the decrypted RTP
    /// length, each consumer the rewritten length it forwards (before protection), and a video
    /// packet is checked once for a keyframe start.
    func forwardPublishedRTP(_ publisher: PublisherSession, length received: Int, now: Instant) {
        var length = received
        var packet = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(receive)[0..<length])
        guard var view = try? RTPPacketView(parsing: packet) else { return }
        // Every authentic packet of the transport counts for congestion feedback, whatever becomes of it.
        if let id = publisher.transportCCExtensionID, let value = view.extensionValue(id: id), value.count == 2,
           publisher.transportFeedback.record(SequenceNumber(value.u16(at: 0)), ssrc: view.ssrc, endOfFrame: view.marker, arrival: now) {
            sendTransportFeedback(publisher, now: now)
        }
        let stream: ProducerStream
        if publisher.repairPayloadTypes[Int(view.payloadType.rawValue)] {
            // RTX (RFC 4588): a retransmission, or padding that probes the uplink, on a repair SSRC.
            guard let repaired = publisher.streamsByRepairSSRC[view.ssrc.rawValue] ?? bindRepairSSRC(publisher, view: view),
                  let n = unwrapRetransmission(&view, of: repaired, length: length)
            else { return }
            stream = repaired
            length = n
            packet = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(receive)[0..<length])
        } else {
            guard let media = publisher.streamsBySSRC[view.ssrc.rawValue] ?? bindSSRC(publisher, view: view) else { return }
            stream = media
        }
        let track = stream.track
        let sequence = view.sequenceNumber
        if stream.statistics == nil { stream.statistics = ReceiveStatistics(ssrc: view.ssrc, clockRate: track.clockRate) }
        let outcome = stream.statistics?.record(sequence: sequence, rtpTimestamp: view.timestamp, arrival: now)
        // Received is received (the admin counts include duplicates and retransmissions).
        stream.counters.record(bytes: length, now: now)
        track.counters.record(bytes: length, now: now)
        // One SRTP index must never carry two plaintexts (RFC 3711 §9.1, RFC 7714 §14). The
        // publisher holds its own keys, so SRTP's replay window does not bind it: a packet the
        // receive statistics already saw (a duplicate, or a retransmission that crossed the
        // original), one too far behind to tell, or an unconfirmed jump (RFC 3550 §A.1 probation) is
        // dropped here, before the cache and the down tracks. The cache therefore holds the first copy
        // of each number, which is what a NACK answer replays.
        switch outcome {
        case .duplicate:
            counters.rtpDuplicates += 1
            return
        case .tooOld, .probation:
            counters.rtpTooOld += 1
            return
        case .restarted:
            // A confirmed sequence restart: old numbers now name other packets. Start a new source
            // epoch on every down track of this stream (the output continues after what was sent)
            // and empty the cache.
            stream.cache?.removeAll()
            for consumer in track.consumers where consumer.stream === stream { consumer.downTrack.resetSource() }
        case .inOrder, .late, nil:
            break
        }
        if stream.cache != nil {
            stream.nack.received(sequence, now: now)
            _ = stream.cache?.store(packet, sequence: sequence, now: now)
        }
        var keyframe = false
        if track.kind == .video {
            if view.marker {
                stream.counters.frames &+= 1
                track.counters.frames &+= 1
            }
            // VP8: one parse of the descriptor gives both the keyframe and its size.
            let vp8 = track.codec == .vp8 ? VP8PayloadDescriptor(parsing: view.payload) : nil
            keyframe = track.codec == .vp8 ? vp8?.keyframeWidth != nil : KeyframeDetector.isKeyframeStart(codec: track.codec, payload: view.payload)
            if keyframe {
                track.counters.keyframes &+= 1
                stream.counters.keyframes &+= 1
                if let width = vp8?.keyframeWidth {
                    stream.width = width
                    stream.height = vp8?.keyframeHeight
                }
            }
        }
        for consumer in track.consumers {
            if consumer.stream !== stream {
                // Another layer: switch to this one at its keyframe if it is the target.
                guard keyframe, consumer.targetStream === stream else { continue }
                if consumer.stream != nil { consumer.layerSwitches += 1 }
                consumer.stream = stream
                consumer.downTrack.resetSource()
            }
            guard let subscriber = consumer.subscriberEntry ?? bindSubscriberEntry(consumer), subscriber.transport.isConnected else { continue }
            UnsafeMutableRawBufferPointer(rebasing: transmit[0..<length]).copyMemory(from: packet)
            switch consumer.downTrack.rewrite(transmit, length: length, now: now) {
            case .forward(let n):
                counters.forwarded += 1
                consumer.counters.record(bytes: n, now: now)
                if keyframe { consumer.counters.keyframes &+= 1 }
                sendProtectedTransmit(to: subscriber, length: n)
            case .dropAndRequestKeyframe:
                counters.forwardDrops[.waitingForKeyframe, default: 0] += 1
                requestKeyframe(stream, now: now)
            case .drop(let reason):
                counters.forwardDrops[reason, default: 0] += 1
            }
        }
    }

    /// Frees the outbound SRTP state of the subscriber's removed consumers (so churn never fills
    /// the transport's SSRC table), except for SSRCs a new consumer took again meanwhile.
    func retireOutputSSRCs(_ subscriber: SubscriberSession, entry: TransportEntry) {
        guard !subscriber.retiredOutputSSRCs.isEmpty else { return }
        for ssrc in subscriber.retiredOutputSSRCs where subscriber.consumers[ssrc] == nil {
            entry.transport.retireOutbound(ssrc: ssrc)
        }
        subscriber.retiredOutputSSRCs.removeAll()
    }

    /// Binds an SSRC the publisher did not announce: to a simulcast layer by the RID header
    /// extension (RFC 8852; browsers send it until the SSRC is acknowledged), else to a track by
    /// the mid extension (RFC 8843 §15).
    private func bindSSRC(_ publisher: PublisherSession, view: RTPPacketView) -> ProducerStream? {
        let mid = publisher.midExtensionID.flatMap { view.extensionValue(id: $0) }.map { String(decoding: $0, as: UTF8.self) }
        let rid = publisher.ridExtensionID.flatMap { view.extensionValue(id: $0) }.map { String(decoding: $0, as: UTF8.self) }
        let stream: ProducerStream?
        if let rid {
            // Without a mid, a RID names a layer only when one track has it.
            let candidates = publisher.tracks.filter { track in mid.map { track.mid == $0 } ?? true }
                .compactMap { track in track.streams.first { $0.rid == rid } }
            stream = candidates.count == 1 ? candidates.first : nil
        } else if let mid, let track = publisher.tracks.first(where: { $0.mid == mid }), !track.isSimulcast {
            stream = track.streams.first
        } else {
            stream = nil
        }
        guard let stream else { return nil }
        stream.ssrc = view.ssrc.rawValue
        stream.resetStatistics()
        publisher.rebuildIndex()
        return stream
    }

    /// Binds a repair SSRC the SDP did not announce: a simulcast layer's by the repaired-RID
    /// extension (RFC 8852 §3.2), a single-stream track's by the mid.
    private func bindRepairSSRC(_ publisher: PublisherSession, view: RTPPacketView) -> ProducerStream? {
        let mid = publisher.midExtensionID.flatMap { view.extensionValue(id: $0) }.map { String(decoding: $0, as: UTF8.self) }
        let rid = publisher.repairedRIDExtensionID.flatMap { view.extensionValue(id: $0) }.map { String(decoding: $0, as: UTF8.self) }
        let tracks = publisher.tracks.filter { track in track.repairPayloadType == view.payloadType.rawValue && (mid.map { track.mid == $0 } ?? true) }
        let candidates = rid.map { rid in tracks.compactMap { track in track.streams.first { $0.rid == rid } } }
            ?? (mid == nil ? [] : tracks.filter { !$0.isSimulcast }.compactMap(\.streams.first))
        guard candidates.count == 1, let stream = candidates.first else { return nil }
        stream.repairSSRC = view.ssrc.rawValue
        publisher.rebuildIndex()
        return stream
    }

    /// Turns the RTX packet in `receive` back into the original (RFC 4588 §4: the original
    /// sequence number leads the payload): the payload moves two bytes left, and SSRC, sequence
    /// number and payload type become the original stream's. Returns the new length, or nil for a
    /// padding-only probe (nothing to recover) or a stream whose media SSRC is not known yet.
    private func unwrapRetransmission(_ view: inout RTPPacketView, of stream: ProducerStream, length: Int) -> Int? {
        stream.repairPackets &+= 1
        guard view.payloadLength >= 2, let ssrc = stream.ssrc else {
            if view.payloadLength < 2 { stream.repairProbes &+= 1 }
            return nil
        }
        let original = SequenceNumber(view.payload.u16(at: 0))
        let start = view.payloadOffset
        let bytes = UnsafeMutableRawBufferPointer(rebasing: receive[0..<length])
        guard let base = bytes.baseAddress else { return nil }
        (base + start).copyMemory(from: base + start + 2, byteCount: length - start - 2)
        let shortened = UnsafeMutableRawBufferPointer(rebasing: receive[0..<(length - 2)])
        RTPRewrite.setSSRC(SSRC(ssrc), in: shortened)
        RTPRewrite.setSequenceNumber(original, in: shortened)
        RTPRewrite.setPayloadType(PayloadType(stream.track.payloadType), in: shortened)
        guard let parsed = try? RTPPacketView(parsing: UnsafeRawBufferPointer(shortened)) else { return nil }
        view = parsed
        return length - 2
    }

    private func sendProtectedTransmit(to entry: TransportEntry, length: Int) {
        guard let protected = entry.transport.protectRTP(transmit, length: length) else {
            counters.protectRefused += 1
            return
        }
        send(entry: entry, bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(transmit)[0..<protected]))
    }

    // MARK: Feedback towards publishers

    /// Asks the publisher for a keyframe of one stream (PLI, RFC 4585 §6.3.1), throttled per stream.
    func requestKeyframe(_ stream: ProducerStream, now: Instant) {
        guard stream.track.kind == .video, stream.keyframeThrottle.request(now: now) else { return }
        sendPLI(stream)
    }

    private func sendPLI(_ stream: ProducerStream) {
        let track = stream.track
        guard let ssrc = stream.ssrc, let entry = entries[track.publisher],
              let publisher = publisherSession(entry) else { return }
        var writer = ByteWriter(transmit)
        do {
            try ReceiverReport(ssrc: SSRC(publisher.room.relaySSRC)).serialize(into: &writer)
            try PictureLossIndication(senderSSRC: SSRC(publisher.room.relaySSRC), mediaSSRC: SSRC(ssrc)).serialize(into: &writer)
        } catch {
            return
        }
        counters.keyframeRequests += 1
        track.counters.plis += 1
        stream.counters.plis += 1
        sendRTCP(entry: entry, length: writer.position)
    }

    /// Sends the publisher's pending transport-wide feedback (TWCC), after an empty receiver report
    /// (a compound starts with one, RFC 3550 §6.1), as many compounds as the window needs.
    func sendTransportFeedback(_ publisher: PublisherSession, now: Instant) {
        guard let entry = entries[publisher.transport], entry.transport.isConnected else { return }
        let sender = SSRC(publisher.room.relaySSRC)
        for _ in 0..<4 {
            var writer = ByteWriter(transmit)
            guard (try? ReceiverReport(ssrc: sender).serialize(into: &writer)) != nil else { return }
            let start = writer.position
            let written = publisher.transportFeedback.writeFeedback(
                senderSSRC: sender, into: UnsafeMutableRawBufferPointer(rebasing: transmit[start..<1200]), now: now)
            guard written > 0 else { return }
            counters.transportFeedbackToPublishers += 1
            sendRTCP(entry: entry, length: start + written)
            if publisher.transportFeedback.pendingCount == 0 { return }
        }
    }

    /// The publisher's ceiling in REMB (draft-alvestrand-rmcat-remb) for all its tracks' SSRCs.
    private func sendREMB(entry: TransportEntry, publisher: PublisherSession, bitrate: UInt64) {
        let sender = SSRC(publisher.room.relaySSRC)
        let ssrcs = publisher.tracks.flatMap(\.streams).compactMap { stream in stream.ssrc.map { SSRC($0) } }
        guard !ssrcs.isEmpty else { return }
        var writer = ByteWriter(transmit)
        do {
            try ReceiverReport(ssrc: sender).serialize(into: &writer)
            try REMB(senderSSRC: sender, bitrate: bitrate, ssrcs: ssrcs).serialize(into: &writer)
        } catch {
            return
        }
        counters.rembToPublishers += 1
        sendRTCP(entry: entry, length: writer.position)
    }

    private func publisherSession(_ entry: TransportEntry) -> PublisherSession? {
        if case .publisher(let p) = entry.purpose { return p }
        return nil
    }

    /// Receiver reports (RFC 3550 §6.4.2) once a second, transport-wide feedback at least every
    /// 100 ms, NACKs for detected loss, keyframe requests the throttle held back, and the tracks'
    /// rate meters and freeze detection.
    package func tickRoom(_ room: RoomMedia, now: Instant) {
        for subscriber in room.subscribers.values {
            let entry = entries[subscriber.transport]
            let connected = entry?.transport.isConnected ?? false
            for consumer in subscriber.consumers.values {
                consumer.tickStatistics(now: now, connected: connected)
                guard consumer.producer.isSimulcast else { continue }
                consumer.chooseLayer(now: now)
                // A switch waits for the target layer's keyframe: ask for one (throttled per stream).
                if connected, let target = consumer.targetStream, target !== consumer.stream { requestKeyframe(target, now: now) }
            }
            subscriber.retransmissionBudget.update(forwardedTotal: subscriber.forwardedBytes, now: now)
            if let entry { retireOutputSSRCs(subscriber, entry: entry) }
        }
        for publisher in room.publishers.values {
            for track in publisher.tracks { track.tickStatistics(now: now) }
            guard let entry = entries[publisher.transport], entry.transport.isConnected else { continue }
            if publisher.transportFeedback.isDue(now: now) { sendTransportFeedback(publisher, now: now) }
            if let bitrate = publisher.rembBitrate, now.since(publisher.lastREMB) >= .seconds(1) {
                publisher.lastREMB = now
                sendREMB(entry: entry, publisher: publisher, bitrate: bitrate)
            }
            for track in publisher.tracks {
                for stream in track.streams {
                    if stream.keyframeThrottle.poll(now: now) { sendPLI(stream) }
                    guard stream.cache != nil, let ssrc = stream.ssrc else { continue }
                    publisher.lostScratch.removeAll(keepingCapacity: true)
                    // The NACK round trip the stream measured (50 ms until it has one), plus a
                    // margin for the retransmission's own queueing behind the publisher's uplink.
                    let rtt = stream.nack.roundTrip.map { $0 * 5 / 4 } ?? .milliseconds(50)
                    stream.nack.due(now: now, rtt: rtt, into: &publisher.lostScratch)
                    if !publisher.lostScratch.isEmpty { sendNACK(entry: entry, room: room, stream: stream, mediaSSRC: ssrc, lost: publisher.lostScratch) }
                }
            }
            if now.since(publisher.lastReceiverReport) >= .seconds(1) {
                publisher.lastReceiverReport = now
                sendReceiverReport(entry: entry, publisher: publisher, now: now)
            }
        }
    }

    private func sendNACK(entry: TransportEntry, room: RoomMedia, stream: ProducerStream, mediaSSRC: UInt32, lost: [SequenceNumber]) {
        var remaining = lost[...]
        while !remaining.isEmpty {
            var writer = ByteWriter(transmit)
            guard (try? ReceiverReport(ssrc: SSRC(room.relaySSRC)).serialize(into: &writer)) != nil else { return }
            let start = writer.position
            let (written, covered) = NackGenerator.writeNACK(
                senderSSRC: SSRC(room.relaySSRC), mediaSSRC: SSRC(mediaSSRC), sortedLost: remaining,
                into: UnsafeMutableRawBufferPointer(rebasing: transmit[start..<1200]))
            guard written > 0, covered > 0 else { return }
            counters.nacksToPublishers += 1
            stream.track.counters.nacks += 1
            stream.counters.nacks += 1
            sendRTCP(entry: entry, length: start + written)
            remaining = remaining.dropFirst(covered)
        }
    }

    private func sendReceiverReport(entry: TransportEntry, publisher: PublisherSession, now: Instant) {
        var blocks: [ReportBlock] = []
        for stream in publisher.tracks.lazy.flatMap(\.streams) {
            if let block = stream.statistics?.makeReportBlock(now: now) { blocks.append(block) }
        }
        guard !blocks.isEmpty else { return }
        var writer = ByteWriter(transmit)
        let report = ReceiverReportBuilder.receiverReport(reporter: SSRC(publisher.room.relaySSRC), blocks: blocks)
        guard (try? report.serialize(into: &writer)) != nil else { return }
        sendRTCP(entry: entry, length: writer.position)
    }

    // MARK: RTCP

    /// A decrypted compound from a publisher is in `receive[0..<length]`: sender reports feed the
    /// receive statistics (LSR/DLSR) and are translated for every subscriber (lip sync).
    func handlePublisherRTCP(_ publisher: PublisherSession, length: Int, now: Instant) {
        let compound = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(receive)[0..<length])
        var cursor = RTCPCompoundIterator(compound)
        while let packet = try? cursor.next() {
            guard packet.packetType == RTCPPacketType.senderReport, let sr = try? SenderReportView(packet),
                  let stream = publisher.streamsBySSRC[sr.ssrc.rawValue] else { continue }
            stream.statistics?.recordSenderReport(ntp: sr.ntpTimestamp, arrival: now)
            for consumer in stream.track.consumers where consumer.stream === stream {
                guard let subscriber = consumer.subscriberEntry ?? bindSubscriberEntry(consumer), subscriber.transport.isConnected,
                      let report = consumer.downTrack.senderReport(publisherSSRC: sr.ssrc, publisherNTP: sr.ntpTimestamp, publisherRTP: sr.rtpTimestamp)
                else { continue }
                var writer = ByteWriter(transmit)
                guard (try? report.serialize(into: &writer)) != nil else { continue }
                sendRTCP(entry: subscriber, length: writer.position)
                consumer.feedback.senderReportSent(ntp: report.ntpTimestamp, at: now)
            }
        }
    }

    /// A decrypted compound from a subscriber: NACKs are answered from the producer's cache,
    /// PLI and FIR become (throttled) keyframe requests to the publisher, and report blocks (in
    /// RRs, or SRs of a subscriber that also sends) feed the consumers' loss, jitter and RTT.
    func handleSubscriberRTCP(_ subscriber: SubscriberSession, length: Int, now: Instant) {
        guard let entry = entries[subscriber.transport] else { return }
        let compound = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(receive)[0..<length])
        var cursor = RTCPCompoundIterator(compound)
        while let packet = try? cursor.next() {
            switch (packet.packetType, packet.format) {
            case (RTCPPacketType.transportFeedback, RTCPFeedbackFormat.genericNACK):
                guard let nack = try? GenericNACKView(packet), let consumer = subscriber.consumers[nack.mediaSSRC.rawValue] else { continue }
                consumer.counters.nacks += 1
                guard let cache = consumer.stream?.cache else { continue }
                subscriber.retransmissionBudget.update(forwardedTotal: subscriber.forwardedBytes, now: now)
                let roundTrip = consumer.feedback.roundTripMs.flatMap { $0.isFinite ? Duration.microseconds(Int64(min(max($0, 0), 60_000) * 1000)) : nil }
                let interval = RetransmissionGate.interval(roundTrip: roundTrip)
                for output in nack.lostSequenceNumbers {
                    // At most once per round trip per number (duplicates inside one NACK included).
                    guard consumer.retransmissionGate.admit(output, now: now, interval: interval) else {
                        counters.nackRepeats += 1
                        consumer.nackRepeats += 1
                        continue
                    }
                    guard let input = consumer.downTrack.inputSequence(forOutput: output),
                          let stored = cache.packet(for: input, now: now), stored.count <= MediaLoop.scratchSize - SRTPSession.maxTrailer
                    else {
                        counters.retransmissionMisses += 1
                        continue
                    }
                    guard subscriber.retransmissionBudget.admit(bytes: stored.count) else {
                        counters.nackOverBudget += 1
                        consumer.nackOverBudget += 1
                        continue
                    }
                    UnsafeMutableRawBufferPointer(rebasing: transmit[0..<stored.count]).copyMemory(from: stored)
                    guard let n = consumer.downTrack.rewriteRetransmission(transmit, length: stored.count, outputSequence: output) else {
                        counters.retransmissionMisses += 1
                        continue
                    }
                    counters.retransmissions += 1
                    consumer.retransmissions += 1
                    consumer.retransmittedBytes &+= n
                    consumer.counters.record(bytes: n, now: now)
                    sendProtectedTransmit(to: entry, length: n)
                }
            case (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.pictureLossIndication):
                guard let pli = try? PictureLossIndicationView(packet), let consumer = subscriber.consumers[pli.mediaSSRC.rawValue] else { continue }
                consumer.counters.plis += 1
                requestKeyframe(for: consumer, now: now)
            case (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.fullIntraRequest):
                guard let fir = try? FullIntraRequestView(packet) else { continue }
                for index in 0..<fir.entryCount {
                    if let consumer = subscriber.consumers[fir.entry(at: index).ssrc.rawValue] {
                        consumer.counters.plis += 1
                        requestKeyframe(for: consumer, now: now)
                    }
                }
            case (RTCPPacketType.receiverReport, _), (RTCPPacketType.senderReport, _):
                subscriber.receiveReports(packet, now: now)
            default:
                continue
            }
        }
    }

    /// A subscriber that just connected needs a keyframe of every video it receives to start decoding.
    func transportConnected(_ entry: TransportEntry) {
        let profile = entry.transport.srtp?.profile.rawValue ?? "-"
        switch entry.purpose {
        case .publisher(let publisher): publisher.room.events(.transportConnected(entry.id, profile: profile))
        case .subscriber(let subscriber): subscriber.room.events(.transportConnected(entry.id, profile: profile))
        case .echo: break
        }
        guard case .subscriber(let subscriber) = entry.purpose else { return }
        let now = Self.now()
        for consumer in subscriber.consumers.values { requestKeyframe(for: consumer, now: now) }
    }

    /// A keyframe for what the consumer receives: the layer it is switching to, else its layer.
    func requestKeyframe(for consumer: ConsumerTrack, now: Instant) {
        if consumer.targetStream == nil { consumer.chooseLayer(now: now) }
        guard let stream = consumer.targetStream ?? consumer.stream else { return }
        requestKeyframe(stream, now: now)
    }
}
