public import RelaisWire

/// Audio or video: decides whether a down track waits for keyframes.
public enum MediaKind: Sendable, Hashable {
    case audio, video
}

/// Why a down track did not forward a packet. Every drop has a named, counted reason.
public enum DownTrackDropReason: Sendable, Hashable {
    /// Not a parseable RTP packet (RFC 3550 §5.1, RFC 8285).
    case malformed
    /// A payload type the subscriber did not negotiate a mapping for.
    case unknownPayloadType
    /// Video before the first keyframe of the current source.
    case waitingForKeyframe
    /// A reordered packet from before the current source epoch began, or from the source before
    /// it; forwarding it would reuse output sequence numbers the subscriber already saw.
    case predatesSource
    /// Its output sequence number was already forwarded: a second, possibly different, packet under
    /// the same SRTP index would reuse the subscriber's keystream (RFC 3711 §9.1, RFC 7714 §14).
    case duplicate
    /// More than `DownTrack.sentWindow` behind the newest output: the outbound SRTP context
    /// could not tell whether its index was used (and refuses it, RFC 3711 §3.3.2).
    case tooOld
}

/// What the caller does with the packet it handed to `DownTrack.rewrite`.
public enum DownTrackVerdict: Sendable, Hashable {
    /// The packet was rewritten in place; send its first `length` bytes to the subscriber.
    case forward(length: Int)
    /// Do not send it.
    case drop(DownTrackDropReason)
    /// Do not send it (still waiting for a keyframe), and ask the publisher for one (PLI/FIR,
    /// through the track's `KeyframeRequestThrottle`). Issued at most once per
    /// `DownTrack.keyframeRequestInterval` while waiting.
    case dropAndRequestKeyframe
}

/// The per-(published track, subscriber) send state: mediasoup's Consumer with its SeqManager.
///
/// The relay forwards one publisher packet to each subscriber by copying it into a per-subscriber
/// scratch buffer and calling `rewrite`, which sets the subscriber's SSRC, payload type and header
/// extension ids and shifts sequence number and timestamp by this track's offsets.
///
/// Source epochs. Offsets are fixed for one *source epoch*: a run of packets from one publisher
/// SSRC. When the source changes (the publisher reconnected with a new SSRC, or `resetSource` was
/// called for a layer switch), the next forwarded packet continues the output at last sequence + 1
/// and at last timestamp + the wall time elapsed since the last packet (at least one tick), so the
/// subscriber sees one continuous stream (RFC 3550 §5.1: sequence increments by one per packet; the
/// timestamp tracks the sampling clock). Video re-waits for a keyframe at each switch, since the new
/// source's frames do not predict from the old one's.
///
/// VP8 picture IDs and TL0PICIDX are made continuous the same way (`VP8PictureContinuity`), so a
/// receiver's reference finder accepts the new source's keyframe as the next picture.
///
/// Header extensions. Ids the subscriber negotiated for the same URI come from `extensionIDMap`;
/// any other id is renumbered to `unusedExtensionID`, an id the subscriber did not negotiate, which
/// RFC 8285 §5 says receivers ignore. This keeps the header layout (no bytes move).
///
/// Nothing allocates in `rewrite`; the maps are tables built at init.
public struct DownTrack: Sendable {
    public let outputSSRC: SSRC
    public let kind: MediaKind
    public let codec: ForwardedCodec
    public let clockRate: UInt32
    public let unusedExtensionID: UInt8

    /// Least time between two `.dropAndRequestKeyframe` verdicts while waiting for a keyframe.
    public static let keyframeRequestInterval: Duration = .milliseconds(500)

    /// Publisher PT -> subscriber PT, 0xFF for unmapped (PTs are 7 bits).
    private let payloadTypes: [UInt8]
    /// Publisher extension id -> subscriber id, 0 for unmapped (ids are 1...255).
    private let extensionIDs: [UInt8]

    // Source epoch.
    private var inputSSRC: SSRC?
    /// The publisher SSRC of the current source epoch.
    var currentInputSSRC: SSRC? { inputSSRC }
    private var previousInputSSRC: SSRC?
    private var epochPending = true
    private var sequenceOffset: UInt16 = 0
    private var timestampOffset: UInt32 = 0
    /// The epoch's newest input sequence number, and how far it is from the epoch's first: a packet
    /// older than the first is dropped, and a NACK maps back only inside the epoch. Counted, not
    /// compared in 16 bits, so an epoch can run for hours (a 16-bit window from the first packet
    /// would turn over after 32 768 packets, two minutes of HD video).
    private var epochHighestInput = SequenceNumber(0)
    private var epochSpan = 0

    // Output state.
    private var hasSent = false
    public private(set) var lastOutputSequence = SequenceNumber(0)
    public private(set) var lastOutputTimestamp: UInt32 = 0
    private var lastOutputAt = Instant.zero
    /// Which of the last `sentWindow` output sequence numbers were forwarded: bit `seq % sentWindow`.
    /// An output index is protected once with new content; only `rewriteRetransmission`, which
    /// reproduces the same bytes, may use it again.
    private var sent: [UInt64]

    /// VP8 picture IDs and TL0PICIDX, continuous across source epochs.
    private var vp8 = VP8PictureContinuity()

    // Keyframe gating.
    public private(set) var waitingForKeyframe: Bool
    private var lastKeyframeRequest: Instant?

    // Counters (RFC 3550 §6.4.1 sender info definitions).
    /// RTP data packets sent.
    public private(set) var packetsSent: UInt32 = 0
    /// Payload octets sent: header and padding excluded.
    public private(set) var octetsSent: UInt32 = 0
    public private(set) var drops = DropCounters()
    /// Source epochs begun after the first one.
    public private(set) var sourceSwitches = 0

    public struct DropCounters: Sendable, Equatable {
        public var malformed = 0
        public var unknownPayloadType = 0
        public var waitingForKeyframe = 0
        public var predatesSource = 0
        public var duplicate = 0
        public var tooOld = 0
    }

    /// Output sequence numbers remembered as forwarded: the outbound SRTP replay window (1024 in
    /// both libsrtp and `NativeSRTPSession`), beyond which the SRTP context refuses to protect.
    public static let sentWindow = 1024

    /// - Parameters:
    ///   - payloadTypeMap: publisher PT to subscriber PT for each codec both negotiated.
    ///   - extensionIDMap: publisher id to subscriber id for each extension URI both negotiated.
    ///   - unusedExtensionID: an id (1...14, so both RFC 8285 forms can carry it) that the
    ///     subscriber did not negotiate; unmapped extensions are renumbered to it.
    public init(
        outputSSRC: SSRC, kind: MediaKind, codec: ForwardedCodec, clockRate: UInt32,
        payloadTypeMap: [(from: UInt8, to: UInt8)], extensionIDMap: [(from: UInt8, to: UInt8)],
        unusedExtensionID: UInt8 = 14
    ) {
        // Configuration from our own negotiation, not network input.
        precondition((1...14).contains(unusedExtensionID), "unused extension id must fit the one-byte form")
        precondition(!extensionIDMap.contains { $0.to == unusedExtensionID }, "unused extension id is negotiated")
        self.outputSSRC = outputSSRC
        self.kind = kind
        self.codec = codec
        self.clockRate = clockRate
        self.unusedExtensionID = unusedExtensionID
        var pts = [UInt8](repeating: 0xFF, count: 128)
        for (from, to) in payloadTypeMap where from < 128 { pts[Int(from)] = to & 0x7F }
        self.payloadTypes = pts
        var ids = [UInt8](repeating: 0, count: 256)
        for (from, to) in extensionIDMap { ids[Int(from)] = to }
        self.extensionIDs = ids
        self.sent = [UInt64](repeating: 0, count: Self.sentWindow / 64)
        self.waitingForKeyframe = kind == .video && codec.needsKeyframe
    }

    /// Rewrites the RTP packet in `packet[0..<length]` for this subscriber, in place.
    public mutating func rewrite(_ packet: UnsafeMutableRawBufferPointer, length: Int, now: Instant) -> DownTrackVerdict {
        rewrite(packet, length: length, now: now, retransmission: false)
    }

    /// `rewrite`, or with `retransmission` the replay of an output sequence number already
    /// forwarded (required to have been), which changes no state the caller keeps.
    mutating func rewrite(_ packet: UnsafeMutableRawBufferPointer, length: Int, now: Instant, retransmission: Bool) -> DownTrackVerdict {
        guard length >= 0, length <= packet.count else { return drop(.malformed) }
        let bytes = UnsafeMutableRawBufferPointer(rebasing: packet[0..<length])
        let view: RTPPacketView
        do {
            view = try RTPPacketView(parsing: UnsafeRawBufferPointer(bytes))
        } catch {
            return drop(.malformed)
        }
        let outputPT = payloadTypes[Int(view.payloadType.rawValue)]
        guard outputPT != 0xFF else { return drop(.unknownPayloadType) }

        if view.ssrc != inputSSRC {
            // A straggler from the source we just left must not switch back to it.
            if view.ssrc == previousInputSSRC { return drop(.predatesSource) }
            if let current = inputSSRC {
                beginSourceSwitch()
                previousInputSSRC = current
            }
            inputSSRC = view.ssrc
        }

        let descriptor = codec == .vp8 ? VP8PayloadDescriptor(parsing: view.payload) : nil
        if epochPending {
            if waitingForKeyframe {
                guard KeyframeDetector.isKeyframeStart(codec: codec, payload: view.payload) else {
                    return dropWaitingForKeyframe(now: now)
                }
                waitingForKeyframe = false
            }
            beginEpoch(firstInput: view.sequenceNumber, inputTimestamp: view.timestamp, now: now)
            if let descriptor { vp8.beginEpoch(first: descriptor) }
        } else {
            let ahead = Int(view.sequenceNumber.distance(from: epochHighestInput))
            guard epochSpan + ahead >= 0 else { return drop(.predatesSource) }
            if ahead > 0 {
                epochHighestInput = view.sequenceNumber
                epochSpan += ahead
            }
        }

        let outputSequence = SequenceNumber(view.sequenceNumber.rawValue &+ sequenceOffset)
        if retransmission {
            guard hasSent, !outputSequence.isNewer(than: lastOutputSequence),
                  -Int(outputSequence.distance(from: lastOutputSequence)) < Self.sentWindow, wasSent(outputSequence)
            else { return drop(.tooOld) }
        } else if hasSent, !outputSequence.isNewer(than: lastOutputSequence) {
            let back = -Int(outputSequence.distance(from: lastOutputSequence))
            guard back < Self.sentWindow else { return drop(.tooOld) }
            guard !wasSent(outputSequence) else { return drop(.duplicate) }
            markSent(outputSequence)
        } else {
            advanceSent(to: outputSequence)
        }
        let outputTimestamp = view.timestamp &+ timestampOffset
        RTPRewrite.setSSRC(outputSSRC, in: bytes)
        RTPRewrite.setSequenceNumber(outputSequence, in: bytes)
        RTPRewrite.setTimestamp(outputTimestamp, in: bytes)
        RTPRewrite.setPayloadType(PayloadType(outputPT), in: bytes)
        if let form = view.extensionForm {
            rewriteExtensionIDs(view: view, form: form, in: bytes)
        }
        let newest = !hasSent || outputSequence.isNewer(than: lastOutputSequence)
        if let descriptor {
            vp8.rewrite(descriptor, in: UnsafeMutableRawBufferPointer(rebasing: bytes[view.payloadOffset..<(view.payloadOffset + view.payloadLength)]), newest: newest)
        }

        if newest {
            hasSent = true
            lastOutputSequence = outputSequence
            lastOutputTimestamp = outputTimestamp
            lastOutputAt = now
        }
        packetsSent &+= 1
        octetsSent &+= UInt32(truncatingIfNeeded: view.payloadLength)
        return .forward(length: length)
    }

    /// The publisher's source is about to change (a layer switch, or a reconnect the caller learned
    /// of through signaling): the next packet starts a new source epoch.
    public mutating func resetSource() {
        beginSourceSwitch()
        inputSSRC = nil
        previousInputSSRC = nil
    }

    /// Takes over the output stream of `retired`, a down track that sent under the same output SSRC
    /// on the same transport and was removed (the subscriber deselected the track, then took it
    /// again). The outbound SRTP context still holds that SSRC's indices, so this track must not
    /// start from the publisher's numbering: its first packet begins a source epoch after the last
    /// number `retired` sent, as after a source switch, and never reuses one of its indices.
    public mutating func continueOutput(after retired: DownTrack) {
        guard retired.hasSent else { return }
        hasSent = true
        lastOutputSequence = retired.lastOutputSequence
        lastOutputTimestamp = retired.lastOutputTimestamp
        lastOutputAt = retired.lastOutputAt
        sent = retired.sent
        packetsSent = retired.packetsSent
        octetsSent = retired.octetsSent
        vp8 = retired.vp8
        resetSource()
    }

    /// The publisher's sequence number for an output sequence a subscriber NACKed, so the relay can
    /// look it up in the publisher stream's `RetransmissionBuffer`. Nil when `output` was not sent in
    /// the current source epoch (before it, or not yet sent).
    public func inputSequence(forOutput output: SequenceNumber) -> SequenceNumber? {
        guard hasSent, !epochPending else { return nil }
        let newest = SequenceNumber(epochHighestInput.rawValue &+ sequenceOffset)
        let back = Int(output.distance(from: newest))
        guard back <= 0, epochSpan + back >= 0, output.distance(from: lastOutputSequence) <= 0 else { return nil }
        return SequenceNumber(output.rawValue &- sequenceOffset)
    }

    /// The SR this down track sends for a publisher SR (RFC 3550 §6.4.1): the publisher's NTP time
    /// paired with its RTP timestamp moved into this track's timestamp space, so the subscriber
    /// aligns audio and video (lip sync) exactly as the publisher meant; packet and octet counts
    /// are this track's own. Nil when the SR is from another source than the current epoch's, or
    /// nothing was forwarded yet: its RTP timestamp would then be in the wrong timeline.
    public func senderReport(publisherSSRC: SSRC, publisherNTP: UInt64, publisherRTP: UInt32) -> SenderReport? {
        guard hasSent, !epochPending, publisherSSRC == inputSSRC else { return nil }
        return SenderReport(
            ssrc: outputSSRC, ntpTimestamp: publisherNTP, rtpTimestamp: publisherRTP &+ timestampOffset,
            packetCount: packetsSent, octetCount: octetsSent)
    }

    // MARK: - Internals

    private mutating func beginSourceSwitch() {
        epochPending = true
        if kind == .video && codec.needsKeyframe { waitingForKeyframe = true }
        lastKeyframeRequest = nil
    }

    /// Fixes the offsets so that this packet continues the output stream.
    private mutating func beginEpoch(firstInput: SequenceNumber, inputTimestamp: UInt32, now: Instant) {
        epochPending = false
        epochHighestInput = firstInput
        epochSpan = 0
        guard hasSent else {
            // First epoch: keep the publisher's numbering (offsets zero).
            sequenceOffset = 0
            timestampOffset = 0
            return
        }
        sourceSwitches += 1
        let nextSequence = lastOutputSequence.advanced(by: 1)
        let elapsed = rtpTicks(nanoseconds: now.nanoseconds(since: lastOutputAt), clockRate: clockRate)
        let nextTimestamp = lastOutputTimestamp &+ UInt32(truncatingIfNeeded: max(elapsed, 1))
        sequenceOffset = nextSequence.rawValue &- firstInput.rawValue
        timestampOffset = nextTimestamp &- inputTimestamp
    }

    @inline(__always)
    private func wasSent(_ sequence: SequenceNumber) -> Bool {
        let position = Int(sequence.rawValue) & (Self.sentWindow - 1)
        return sent[position >> 6] >> UInt64(position & 63) & 1 == 1
    }

    @inline(__always)
    private mutating func markSent(_ sequence: SequenceNumber) {
        let position = Int(sequence.rawValue) & (Self.sentWindow - 1)
        sent[position >> 6] |= 1 << UInt64(position & 63)
    }

    /// `sequence` becomes the newest output: the positions it skipped are forgotten (they now stand
    /// for numbers `sentWindow` later than before), and it is marked.
    private mutating func advanceSent(to sequence: SequenceNumber) {
        let ahead = hasSent ? Int(sequence.distance(from: lastOutputSequence)) : Self.sentWindow
        if ahead >= Self.sentWindow {
            for i in sent.indices { sent[i] = 0 }
        } else {
            var position = Int(lastOutputSequence.rawValue)
            for _ in 0..<ahead {
                position = (position + 1) & (Self.sentWindow - 1)
                sent[position >> 6] &= ~(1 << UInt64(position & 63))
            }
        }
        markSent(sequence)
    }

    private mutating func rewriteExtensionIDs(
        view: RTPPacketView, form: RTPExtensionForm, in bytes: UnsafeMutableRawBufferPointer
    ) {
        var cursor = view.extensionElements
        // Elements were validated when the view was parsed, so the cursor cannot throw here.
        while let element = try? cursor.next(in: view.bytes) {
            let mapped = extensionIDs[Int(element.id)]
            let target = mapped == 0 ? unusedExtensionID : mapped
            guard target != element.id else { continue }
            if !RTPRewrite.setExtensionID(target, of: element, form: form, in: bytes) {
                // A mapped id above 14 cannot be written in the one-byte form; hide the element.
                RTPRewrite.setExtensionID(unusedExtensionID, of: element, form: form, in: bytes)
            }
        }
    }

    private mutating func dropWaitingForKeyframe(now: Instant) -> DownTrackVerdict {
        drops.waitingForKeyframe += 1
        if let last = lastKeyframeRequest, now.since(last) < Self.keyframeRequestInterval {
            return .drop(.waitingForKeyframe)
        }
        lastKeyframeRequest = now
        return .dropAndRequestKeyframe
    }

    private mutating func drop(_ reason: DownTrackDropReason) -> DownTrackVerdict {
        switch reason {
        case .malformed: drops.malformed += 1
        case .unknownPayloadType: drops.unknownPayloadType += 1
        case .waitingForKeyframe: drops.waitingForKeyframe += 1
        case .predatesSource: drops.predatesSource += 1
        case .duplicate: drops.duplicate += 1
        case .tooOld: drops.tooOld += 1
        }
        return .drop(reason)
    }
}
