import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RelaisAuth
import RelaisHistory
import RelaisServer
import RelaisSignaling
import RelaisTransport
import Testing

/// The abuse limits of the signaling and HTTP side, against the real relay: each refusal or drop
/// happens, gets its documented close code or status, and is counted in /metrics.
@Suite(.serialized) struct SignalingLimitsTests {
    // MARK: Helpers

    /// /metrics as name (with labels) → value.
    static func scrape(_ server: ServerHarness) async throws -> [String: Double] {
        let token = try await server.running.tokens.mintOperator(OperatorClaims(subject: "ops", displayName: "ops", expires: Date().addingTimeInterval(600)))
        return try await scrapeMetrics(server.httpBase, token: token)
    }

    /// Polls /metrics (a condition with a deadline, not a sleep) until `done` holds.
    static func metrics(_ server: ServerHarness, _ what: String, until done: @escaping ([String: Double]) -> Bool) async throws -> [String: Double] {
        try await AdminAPITests.eventually(what, timeout: .seconds(30)) { () -> [String: Double]? in
            let values = try await scrape(server)
            return done(values) ? values : nil
        }
    }

    static func token(_ server: ServerHarness, room: String, role: Role = .expert, name: String = "Dr. N", expires: Date = Date().addingTimeInterval(600)) async throws -> String {
        try await server.running.tokens.mint(AccessClaims(subject: name, displayName: name, role: role, room: room, expires: expires))
    }

    static func join(_ socket: RawWebSocket, token: String, room: String) async throws {
        try await socket.send(#"{"type":"join","requestId":"j","room":"\#(room)","token":"\#(token)"}"#)
        let joined = try await socket.text(containing: #""type":"joined""#)
        try #require(joined != nil, "no joined")
    }

    /// A ping answered proves the connection is open and served.
    static func isServed(_ socket: RawWebSocket, _ id: String) async throws -> Bool {
        try await socket.send(#"{"type":"ping","requestId":"\#(id)"}"#)
        return try await socket.text(containing: #""requestId":"\#(id)""#) != nil
    }

    // MARK: Join deadline; errors before join

    /// A connection that never joins is closed with 1008 `join_timeout` once the deadline passes;
    /// one that joined in time is not. An error sent before a join is counted but not written to
    /// the history; one sent to a joined participant is both.
    @Test func joinDeadlineClosesOnlyUnjoinedConnectionsAndPreJoinErrorsStayOutOfTheHistory() async throws {
        let history = FileManager.default.temporaryDirectory.appendingPathComponent("relais-limits-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: history) }
        try await withFixtures { fixtures in
            let server = try await fixtures.server {
                $0.signaling.joinDeadline = .milliseconds(500)
                $0.history = HistoryConfiguration(path: history, retention: .seconds(86_400))
            }
            let port = server.running.httpPort

            // Joined first, so its deadline has passed by the time the idle one is closed.
            let joined = try await RawWebSocket.connect(port: port)
            try await Self.join(joined, token: try await Self.token(server, room: "deadline-1"), room: "deadline-1")
            let idle = try await RawWebSocket.connect(port: port)
            try await idle.send("not json")  // an error before any join
            let close = try await idle.untilClose()
            guard case .close(let code, let reason) = close else {
                Issue.record("expected a close frame, got \(close)")
                return
            }
            #expect(code == 1008)
            #expect(reason.hasPrefix("join_timeout"), "\(reason)")
            #expect(try await Self.isServed(joined, "after-deadline"), "a joined connection outlives the join deadline")
            // An error on the joined connection: audited with its room.
            try await joined.send(#"{"type":"offer","requestId":"o","target":"publish","sdp":"garbage"}"#)
            #expect(try await joined.text(containing: #""code":"invalid_sdp""#) != nil)

            let metrics = try await Self.metrics(server, "the join timeout and the errors counted") {
                ($0["relais_signaling_join_timeouts_total"] ?? 0) == 1 && ($0[#"relais_signaling_errors_total{code="invalid_json"}"#] ?? 0) == 1
                    && ($0[#"relais_signaling_errors_total{code="invalid_sdp"}"#] ?? 0) == 1
                    && $0["relais_signaling_connections"] == 1  // the closed connection's slot is free
            }
            #expect(metrics["relais_signaling_join_timeouts_total"] == 1)
            let recorder = try #require(server.running.history)
            await recorder.flush()
            let errors = try recorder.store.errors(room: nil, since: Date().addingTimeInterval(-600))
            #expect(errors.map(\.code) == ["invalid_sdp"], "only the joined participant's error is in the history")
            #expect(errors.first?.room == "deadline-1")
        }
    }

    // MARK: Connection caps

    /// Per-address cap, then total cap: the connection over a cap is closed with 1013
    /// `too_many_connections`; the ones within keep being served, and a freed slot is reusable.
    @Test func connectionCapsPerAddressAndInTotal() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server {
                $0.signaling.maxConnectionsPerAddress = 3
                $0.signaling.maxConnections = 5
                $0.signaling.joinDeadline = .seconds(120)
            }
            let port = server.running.httpPort
            var first: [RawWebSocket] = []
            for i in 0..<3 {
                let socket = try await RawWebSocket.connect(port: port, source: "127.0.0.1")
                #expect(try await Self.isServed(socket, "a\(i)"))
                first.append(socket)
            }
            let overAddress = try await RawWebSocket.connect(port: port, source: "127.0.0.1")
            let refusedPerAddress = try await overAddress.untilClose()
            #expect(refusedPerAddress == .close(code: 1013, reason: "too_many_connections: too many connections from this address"))

            // Another address still gets in, up to the total.
            var second: [RawWebSocket] = []
            for i in 0..<2 {
                let socket = try await RawWebSocket.connect(port: port, source: "127.0.0.2")
                #expect(try await Self.isServed(socket, "b\(i)"))
                second.append(socket)
            }
            let overTotal = try await RawWebSocket.connect(port: port, source: "127.0.0.3")
            let refusedTotal = try await overTotal.untilClose()
            #expect(refusedTotal == .close(code: 1013, reason: "too_many_connections: the relay is at its connection limit"))
            for (i, socket) in (first + second).enumerated() {
                #expect(try await Self.isServed(socket, "still-\(i)"), "an admitted connection is still served")
            }
            var metrics = try await Self.metrics(server, "both refusals counted") {
                ($0[#"relais_signaling_connections_refused_total{limit="per_address"}"#] ?? 0) == 1
                    && ($0[#"relais_signaling_connections_refused_total{limit="total"}"#] ?? 0) == 1
            }
            #expect(metrics["relais_signaling_connections"] == 5)

            // A connection that goes frees its slot for its address.
            first[0].shutdown()
            metrics = try await Self.metrics(server, "the slot freed") { $0["relais_signaling_connections"] == 4 }
            let again = try await RawWebSocket.connect(port: port, source: "127.0.0.1")
            #expect(try await Self.isServed(again, "again"))
            _ = metrics
        }
    }

    // MARK: Slow reader

    /// A client that never reads while the server keeps answering it: once more than
    /// `maxOutboxBytes` wait for its socket, the connection is closed and counted, and its slot
    /// freed; the server never holds more than the cap for it.
    @Test func slowReaderIsClosedBeforeItsOutboxGrows() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server {
                $0.signaling.maxOutboxBytes = 16 * 1024
                $0.signaling.messagesPerSecond = 1_000_000
                $0.signaling.messageBurst = 1_000_000
                $0.signaling.joinDeadline = .seconds(120)
            }
            let port = server.running.httpPort
            // A small receive window, and no reads: the server's socket backs up after a few KiB.
            let slow = try await RawWebSocket.connect(port: port, receiveBuffer: 4096)
            let id = String(repeating: "x", count: 60)
            // 100 000 pings ask for ~9 MB of pongs: beyond the cap plus NIO's buffers plus the server
            // socket's send buffer even at its largest (tcp_wmem's maximum is 4 MiB here), so the
            // outbox must pass the cap however the kernel sized that buffer.
            let sent = await slow.sendMany(#"{"type":"ping","requestId":"\#(id)"}"#, count: 100_000)
            #expect(sent > 0)
            let metrics = try await Self.metrics(server, "the slow reader closed and its slot freed") {
                ($0["relais_signaling_slow_reader_closes_total"] ?? 0) == 1 && $0["relais_signaling_connections"] == 0
            }
            #expect(metrics["relais_signaling_slow_reader_closes_total"] == 1)
            // Reading now, the client finds the end of the connection after what had been sent.
            let end = try await slow.untilClose()
            #expect(end == .ended || end == .close(code: 1008, reason: "slow_reader: messages were not read fast enough"), "\(end)")

            // A client reading normally is unaffected by the cap (it is far above one burst).
            let healthy = try await RawWebSocket.connect(port: port)
            for i in 0..<200 { #expect(try await Self.isServed(healthy, "h\(i)")) }
        }
    }

    // MARK: Echo

    /// A minimal WebRTC offer the echo room accepts (VP8, bundle, rtcp-mux).
    static func echoOffer() throws -> String {
        let fingerprint = try DTLSCertificate.generateSelfSigned(commonName: "peer").fingerprintSHA256
        return [
            "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:0",
            "a=ice-ufrag:peer\(UInt16.random(in: 1000...9999))", "a=ice-pwd:abcdefghijklmnopqrstuvwx",
            "a=fingerprint:\(fingerprint)", "a=setup:actpass", "a=rtcp-mux", "a=sendrecv", "a=rtpmap:96 VP8/90000",
        ].joined(separator: "\r\n") + "\r\n"
    }

    static func postEcho(_ server: ServerHarness, token: String?) async throws -> (status: Int, body: String, retryAfter: String?) {
        var request = URLRequest(url: try #require(URL(string: server.httpBase + "/v1/echo")))
        request.httpMethod = "POST"
        request.setValue("application/sdp", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.httpBody = Data(try echoOffer().utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? -1, String(decoding: data, as: UTF8.self), http?.value(forHTTPHeaderField: "Retry-After"))
    }

    /// `/v1/echo` refuses requests without a valid participant token (401) and, beyond
    /// `maxEchoSessions` running tests, with 503 `echo_busy`; a test's slot is freed when its
    /// transport goes (here: ICE consent expiry, since no peer ever answers).
    @Test func echoNeedsATokenAndIsCapped() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server {
                $0.signaling.maxEchoSessions = 2
                $0.media.transport.consentTimeout = .seconds(1)
            }
            let unauthenticated = try await Self.postEcho(server, token: nil)
            #expect(unauthenticated.status == 401)
            #expect(unauthenticated.body.contains(#""code":"invalid_token""#))
            let expired = try await Self.postEcho(server, token: try await Self.token(server, room: "any", expires: Date().addingTimeInterval(-60)))
            #expect(expired.status == 401)
            #expect(expired.body.contains(#""code":"token_expired""#))
            #expect(try await server.running.media.counters().reduce(0) { $0 + $1.transportsOpened } == 0, "no transport for a stranger")

            // Any participant token will do, whatever its room and role.
            let cart = try await Self.token(server, room: "cart-7-check", role: .cart)
            #expect(try await Self.postEcho(server, token: cart).status == 201)
            #expect(try await Self.postEcho(server, token: try await Self.token(server, room: "other", role: .observer)).status == 201)
            let busy = try await Self.postEcho(server, token: cart)
            #expect(busy.status == 503)
            #expect(busy.body.contains(#""code":"echo_busy""#))
            #expect(busy.retryAfter == "30")
            var metrics = try await Self.scrape(server)
            #expect(metrics["relais_echo_sessions"] == 2)
            #expect(metrics[#"relais_echo_refusals_total{code="invalid_token"}"#] == 1)
            #expect(metrics[#"relais_echo_refusals_total{code="token_expired"}"#] == 1)
            #expect(metrics[#"relais_echo_refusals_total{code="echo_busy"}"#] == 1)

            // Nobody answers ICE: both transports expire, and their slots come back.
            metrics = try await Self.metrics(server, "the echo slots freed") { $0["relais_echo_sessions"] == 0 }
            #expect(try await Self.postEcho(server, token: cart).status == 201)
        }
    }
}
