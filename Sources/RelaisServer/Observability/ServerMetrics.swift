import CoreMetrics
import Prometheus
import RelaisSFU
import RelaisTransport
import Synchronization

/// The relay's Prometheus metrics: swift-metrics instruments over a registry of this server's own
/// (not the process-wide bootstrap, so several servers can run in one test process).
///
/// Signaling and camera events increment their counters as they happen (off the media path). The
/// media loops keep plain integers on their own thread; a scrape reads them with one hop per loop
/// and advances the Prometheus counters by the difference, so metrics cost the packet path nothing.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    /// Loop counters already published, per loop, to turn totals into increments.
    private let published = Mutex<[Int: MediaLoopCounters]>([:])

    public init() {
        factory = PrometheusMetricsFactory(registry: registry)
        // The abuse counters are exported from the start, at 0, so a dashboard can alert on a rise.
        _ = Counter(label: Self.joinTimeouts, factory: factory)
        _ = Counter(label: Self.slowReaderCloses, factory: factory)
        signalingConnections(0)
        echoSessions(0)
    }

    // MARK: Events (signaling side)

    func signalingError(code: String) {
        Counter(label: "relais_signaling_errors_total", dimensions: [("code", code)], factory: factory).increment()
    }

    func cameraCommand(result: String) {
        Counter(label: "relais_camera_commands_total", dimensions: [("result", result)], factory: factory).increment()
    }

    func participantJoined(role: String) {
        Counter(label: "relais_participants_joined_total", dimensions: [("role", role)], factory: factory).increment()
    }

    func participantLeft(reason: String) {
        Counter(label: "relais_participants_left_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    func consultationStarted() {
        Counter(label: "relais_consultations_started_total", factory: factory).increment()
    }

    func adminRequest(status: Int) {
        Counter(label: "relais_admin_requests_total", dimensions: [("status", "\(status)")], factory: factory).increment()
    }

    // MARK: Abuse limits (signaling and HTTP side)

    static let joinTimeouts = "relais_signaling_join_timeouts_total"
    static let slowReaderCloses = "relais_signaling_slow_reader_closes_total"

    /// A WebSocket refused by a connection cap (`limit`: `per_address` or `total`).
    func signalingConnectionRefused(limit: String) {
        Counter(label: "relais_signaling_connections_refused_total", dimensions: [("limit", limit)], factory: factory).increment()
    }

    /// Open signaling WebSockets (joined or not), recorded at each change.
    func signalingConnections(_ open: Int) {
        Gauge(label: "relais_signaling_connections", factory: factory).record(open)
    }

    /// A WebSocket closed because it sent no `join` or `resume` in time.
    func joinTimeout() {
        Counter(label: Self.joinTimeouts, factory: factory).increment()
    }

    /// A WebSocket closed because its reader fell so far behind that its outbox passed the cap.
    func slowReaderClosed() {
        Counter(label: Self.slowReaderCloses, factory: factory).increment()
    }

    /// A refused `POST /v1/echo`, by its error code (a small fixed set).
    func echoRefused(code: String) {
        Counter(label: "relais_echo_refusals_total", dimensions: [("code", code)], factory: factory).increment()
    }

    /// Echo tests running, recorded at each change.
    func echoSessions(_ live: Int) {
        Gauge(label: "relais_echo_sessions", factory: factory).record(live)
    }

    // MARK: Scrape

    /// What a scrape needs of the live server, gathered off the media path.
    struct Sample {
        var rooms: Int
        var participants: Int
        var loops: [MediaLoopCounters]
        var transports: Int
        var inboundPacketsLost: Int
        var relay: [RelayStatistics]
    }

    /// The Prometheus text exposition (format 0.0.4).
    func render(_ sample: Sample) -> String {
        Gauge(label: "relais_rooms", factory: factory).record(sample.rooms)
        Gauge(label: "relais_participants", factory: factory).record(sample.participants)
        Gauge(label: "relais_transports", factory: factory).record(sample.transports)
        Gauge(label: "relais_inbound_packets_lost", factory: factory).record(sample.inboundPacketsLost)
        for (index, counters) in sample.loops.enumerated() {
            let previous = published.withLock { state in
                defer { state[index] = counters }
                return state[index] ?? MediaLoopCounters()
            }
            let loop = ("loop", "\(index)")
            func advance(_ label: String, _ extra: [(String, String)] = [], _ value: (MediaLoopCounters) -> Int) {
                let delta = value(counters) - value(previous)
                let counter = Counter(label: label, dimensions: [loop] + extra, factory: factory)
                if delta > 0 { counter.increment(by: Int64(delta)) }
            }
            advance("relais_packets_in_total") { $0.datagramsIn }
            advance("relais_packets_out_total") { $0.datagramsOut }
            advance("relais_bytes_in_total") { $0.bytesIn }
            advance("relais_bytes_out_total") { $0.bytesOut }
            advance("relais_rtp_forwarded_total") { $0.forwarded }
            advance("relais_unrouted_datagrams_total") { $0.unrouted }
            advance("relais_retransmissions_total") { $0.retransmissions }
            advance("relais_retransmission_misses_total") { $0.retransmissionMisses }
            advance("relais_nacks_sent_total") { $0.nacksToPublishers }
            advance("relais_plis_sent_total") { $0.keyframeRequests }
            advance("relais_transport_feedback_sent_total") { $0.transportFeedbackToPublishers }
            advance("relais_remb_sent_total") { $0.rembToPublishers }
            advance("relais_srtp_failures_total") { $0.srtpFailures }
            advance("relais_dtls_failures_total") { $0.dtlsFailures }
            advance("relais_ice_consent_expiries_total") { $0.consentExpiries }
            advance("relais_transports_opened_total") { $0.transportsOpened }
            advance("relais_transports_closed_total") { $0.transportsClosed }
            // Every place the media path drops a packet, one series per named reason.
            for (now, before) in zip(counters.namedDrops, previous.namedDrops) {
                let counter = Counter(label: "relais_media_drops_total", dimensions: [loop, ("reason", now.reason)], factory: factory)
                if now.count > before.count { counter.increment(by: Int64(now.count - before.count)) }
            }
        }
        // The relay's own added latency (receive to flush), sampled in the loops since their last reset.
        for stats in sample.relay {
            let quantiles: [(String, Double?)] = [
                ("0.5", stats.latencyMicrosecondsP50), ("0.9", stats.latencyMicrosecondsP90),
                ("0.99", stats.latencyMicrosecondsP99), ("1", stats.latencyMicrosecondsMax),
            ]
            for case (let quantile, let value?) in quantiles {
                Gauge(label: "relais_relay_latency_microseconds", dimensions: [("loop", "\(stats.loop)"), ("quantile", quantile)], factory: factory)
                    .record(value)
            }
        }
        return registry.emitToString()
    }
}

extension MediaLoopCounters {
    /// Every place between the socket and a subscriber where the media path drops a packet, by
    /// name, always in this order and always all of them (a reason that never happened reads 0):
    /// the one list behind the admin API's `drops` and /metrics' `relais_media_drops_total{reason}`.
    public var namedDrops: [(reason: String, count: Int)] {
        var srtp = (authentication: 0, replay: 0, malformed: 0, other: 0)
        var transport = (unvalidated: 0, notConnected: 0, unknown: 0, closed: 0, ssrcLimit: 0, stun: 0)
        for (reason, count) in drops {
            switch reason {
            case .srtp(.authenticationFailed): srtp.authentication += count
            case .srtp(.replayed): srtp.replay += count
            case .srtp(.malformed), .srtp(.noRoomForTag): srtp.malformed += count
            case .srtp: srtp.other += count
            case .unvalidatedSource: transport.unvalidated += count
            case .notConnected: transport.notConnected += count
            case .unknownPacket: transport.unknown += count
            case .closed: transport.closed += count
            case .ssrcLimit: transport.ssrcLimit += count
            case .stun: transport.stun += count
            }
        }
        func forward(_ reason: DownTrackDropReason) -> Int { forwardDrops[reason] ?? 0 }
        return [
            // Before any transport: the kernel, and datagrams no transport claims.
            ("socket_receive_buffer", socketReceiveDrops),
            ("unrouted", unrouted),
            // A transport refuses it.
            ("unvalidated_source", transport.unvalidated),
            ("not_connected", transport.notConnected),
            ("unknown_packet", transport.unknown),
            ("transport_closed", transport.closed),
            ("stun_refused", transport.stun),
            ("ssrc_limit", transport.ssrcLimit),
            ("srtp_authentication", srtp.authentication),
            ("srtp_replay", srtp.replay),
            ("srtp_malformed", srtp.malformed),
            ("srtp_other", srtp.other),
            ("address_move_refused", addressMovesRefused),
            // The publisher's stream.
            ("rtp_duplicate", rtpDuplicates),
            ("rtp_too_old", rtpTooOld),
            // A subscriber's down track.
            ("keyframe_gating", forward(.waitingForKeyframe)),
            ("forward_predates_source", forward(.predatesSource)),
            ("forward_duplicate", forward(.duplicate)),
            ("forward_too_old", forward(.tooOld)),
            ("forward_unknown_payload_type", forward(.unknownPayloadType)),
            ("forward_malformed", forward(.malformed)),
            // Retransmissions not sent.
            ("nack_repeat", nackRepeats),
            ("nack_over_budget", nackOverBudget),
            // On the way out.
            ("srtp_protect_refused", protectRefused),
            ("socket_unwritable", unwritableDrops),
        ]
    }

    /// The names of every drop reason, in `namedDrops` order.
    public static var dropReasons: [String] { MediaLoopCounters().namedDrops.map(\.reason) }

    /// SRTP/SRTCP datagrams refused: authentication failures, replays and malformed packets.
    var srtpFailures: Int {
        drops.reduce(0) { sum, entry in
            if case .srtp = entry.key { return sum + entry.value }
            return sum
        }
    }
}
