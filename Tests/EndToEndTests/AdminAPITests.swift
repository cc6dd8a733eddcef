import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RelaisAdmin
import RelaisAuth
import RelaisServer
import Testing

/// The operators' admin API against the real relay and real `relais-client` participants.
@Suite(.serialized) struct AdminAPITests {
    static let secret = "admin-api-test-secret-0123456789abcdef"

    static func operatorToken(secret: String = secret, expires: Date = Date().addingTimeInterval(600)) async throws -> String {
        try await TokenAuthority(secret: secret).mintOperator(OperatorClaims(subject: "ops-1", displayName: "Night operator", expires: expires))
    }

    static func call(_ method: String, _ url: String, token: String?) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? -1, data)
    }

    static func get<T: Decodable>(_ type: T.Type, _ url: String, token: String) async throws -> T {
        let (status, body) = try await call("GET", url, token: token)
        guard status == 200 else { throw HTTPStatus(url: url, status: status, body: String(decoding: body, as: UTF8.self)) }
        return try JSONDecoder.admin.decode(T.self, from: body)
    }

    struct HTTPStatus: Error {
        var url: String
        var status: Int
        var body: String
    }

    static func client(_ server: String, room: String, role: String, name: String, _ extra: [String]) throws -> ChildProcess {
        try ChildProcess(builtExecutable("relais-client"), [
            "join", "--url", "ws://\(server)/v1/signaling", "--room", room, "--role", role, "--name", name,
            "--token-secret", secret, "--width", "320", "--height", "240", "--bitrate", "400",
        ] + extra)
    }

    /// Polls the API (a condition the test observes, with a deadline) until `done` holds.
    static func eventually<T: Sendable>(_ what: String, timeout: Duration = .seconds(20), _ probe: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
        throw HarnessError.peerTimedOut(what)
    }

    // MARK: Authorization

    @Test func everyAdminRouteRefusesMissingWrongOrParticipantTokens() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.signaling.tokenSecret = Self.secret }
            let base = server.httpBase
            let routes: [(String, String)] = [
                ("GET", "/v1/admin/sessions"), ("GET", "/v1/admin/sessions/stroke-1"), ("DELETE", "/v1/admin/sessions/stroke-1"),
                ("DELETE", "/v1/admin/participants/p-1"), ("GET", "/v1/admin/events"), ("GET", "/v1/admin/history"),
                ("GET", "/v1/admin/audit"), ("GET", "/v1/admin/media"), ("GET", "/metrics"),
            ]
            let authority = try await TokenAuthority(secret: Self.secret)
            let participant = try await authority.mint(AccessClaims(
                subject: "dr-n", displayName: "Dr. N", role: .expert, room: "stroke-1", expires: Date().addingTimeInterval(600)))
            let forged = try await Self.operatorToken(secret: "another-secret-of-at-least-32-bytes!!")
            let expired = try await Self.operatorToken(expires: Date().addingTimeInterval(-60))
            let refusals: [(String?, Int, String)] = [
                (nil, 401, "unauthorized"), ("not-a-jwt", 401, "unauthorized"), (forged, 401, "unauthorized"),
                (expired, 401, "unauthorized"), (participant, 403, "forbidden"),
            ]
            for (method, path) in routes {
                for (token, status, code) in refusals {
                    let (got, body) = try await Self.call(method, base + path, token: token)
                    #expect(got == status, "\(method) \(path) with \(token == nil ? "no token" : "a bad token"): \(got)")
                    let error = try? JSONDecoder.admin.decode(AdminErrorBody.self, from: body)
                    #expect(error?.error.code == code, "\(method) \(path): \(String(decoding: body, as: UTF8.self))")
                }
            }
            // The operator's token opens them (the stream is not read here: only its status matters).
            let good = try await Self.operatorToken()
            for (method, path) in routes where path != "/v1/admin/events" {
                let (got, _) = try await Self.call(method, base + path, token: good)
                #expect([200, 404, 503].contains(got), "\(method) \(path) with the operator token: \(got)")
            }
        }
    }

    // MARK: Live state

    /// A participant killed without leaving shows as disconnected, then gone; the event stream
    /// (read over HTTP by an independent reader) tells the same story in order.
    @Test func killedParticipantShowsDisconnectedThenGone() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server {
                $0.signaling.tokenSecret = Self.secret
                $0.signaling.resumeWindow = .seconds(2)
            }
            let token = try await Self.operatorToken()
            let host = "127.0.0.1:\(server.running.httpPort)"
            let cart = try fixtures.keep(Self.client(host, room: "stroke-kill", role: "cart", name: "ER cart", ["--duration", "30"]))
            let expert = try fixtures.keep(Self.client(host, room: "stroke-kill", role: "expert", name: "Dr. K", ["--duration", "30", "--no-publish"]))

            let session = try await Self.eventually("two connected participants") { () -> Session? in
                let list = try await Self.get(SessionList.self, server.httpBase + "/v1/admin/sessions", token: token)
                guard let session = list.sessions.first(where: { $0.room == "stroke-kill" }), session.participants.count == 2,
                      session.participants.allSatisfy({ $0.state == .connected && ($0.subscribe?.state == "connected" || $0.role == "cart") })
                else { return nil }
                return session
            }
            let expertID = try #require(session.participants.first { $0.role == "expert" }?.id)
            let cartEntry = try #require(session.participants.first { $0.role == "cart" })
            #expect(cartEntry.publish?.srtpProfile == "SRTP_AEAD_AES_128_GCM")
            #expect(cartEntry.publish?.dtlsState == "connected")
            #expect(cartEntry.publish?.selectedPair != nil)
            #expect(cartEntry.subject == "ER cart")

            let reader = try fixtures.child("/usr/bin/env", [
                "python3", peerScriptPath("sse_reader.py"), "--url", server.httpBase + "/v1/admin/events?consultation=\(session.id)",
                "--token", token, "--until", "participantLeft", "--participant", expertID, "--timeout", "30",
            ])
            #expect(await reader.waitForOutput("open"), "the event stream opened: \(reader.text)")

            expert.signal(SIGKILL)
            _ = await expert.wait()
            _ = try await Self.eventually("the expert shown disconnected") { () -> Bool? in
                let detail = try await Self.get(Session.self, server.httpBase + "/v1/admin/sessions/\(session.id)", token: token)
                return detail.participants.first { $0.id == expertID }?.state == .disconnected ? true : nil
            }
            _ = try await Self.eventually("the expert gone") { () -> Bool? in
                let detail = try await Self.get(Session.self, server.httpBase + "/v1/admin/sessions/stroke-kill", token: token)
                return detail.participants.contains { $0.id == expertID } ? nil : true
            }
            #expect(await reader.wait() == 0, "the stream delivered participantLeft: \(reader.text)")
            let events = reader.text.split(separator: "\n").compactMap { try? JSONDecoder.admin.decode(SessionEvent.self, from: Data($0.utf8)) }
                .filter { $0.participant == expertID }
            let kinds = events.map(\.type)
            let disconnected = try #require(kinds.firstIndex(of: .participantDisconnected), "\(kinds)")
            let left = try #require(kinds.firstIndex(of: .participantLeft), "\(kinds)")
            #expect(disconnected < left)
            #expect(events[left].detail == "disconnected")
        }
    }

    /// An operator removes a participant, then ends the consultation; both are in the history.
    @Test func operatorRemovesParticipantAndEndsConsultation() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relais-admin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withFixtures { fixtures in
            let server = try await fixtures.server {
                $0.signaling.tokenSecret = Self.secret
                $0.history = .init(path: directory.appendingPathComponent("history.sqlite").path)
            }
            let events = server.running.events.subscribe()
            let token = try await Self.operatorToken()
            let host = "127.0.0.1:\(server.running.httpPort)"
            let cart = try fixtures.keep(Self.client(host, room: "derm-7", role: "cart", name: "Clinic cart", ["--duration", "30"]))
            let expert = try fixtures.keep(Self.client(host, room: "derm-7", role: "expert", name: "Dr. D", ["--duration", "30", "--json"]))
            // Both in, with the cart's publish and the expert's subscribe connections up (the story
            // told below has their transportConnected events before the removal).
            let session = try await Self.eventually("two participants with media connected") { () -> Session? in
                let list = try await Self.get(SessionList.self, server.httpBase + "/v1/admin/sessions", token: token)
                guard let session = list.sessions.first(where: { $0.room == "derm-7" && $0.participants.count == 2 }) else { return nil }
                let cart = session.participants.first { $0.role == "cart" }, expert = session.participants.first { $0.role == "expert" }
                return cart?.publish?.state == "connected" && expert?.subscribe?.state == "connected"
                    && expert?.publish?.state == "connected" ? session : nil
            }
            let expertID = try #require(session.participants.first { $0.role == "expert" }?.id)

            let (kicked, kickBody) = try await Self.call("DELETE", server.httpBase + "/v1/admin/participants/\(expertID)", token: token)
            #expect(kicked == 200, "\(String(decoding: kickBody, as: UTF8.self))")
            #expect(try JSONDecoder.admin.decode(ActionResult.self, from: kickBody).removed == [expertID])
            #expect(await expert.waitForOutput("removed"), "the expert's client was told it was removed: \(expert.text.suffix(800))")
            let after = try await Self.get(Session.self, server.httpBase + "/v1/admin/sessions/derm-7", token: token)
            #expect(after.participants.map(\.role) == ["cart"])
            let (again, _) = try await Self.call("DELETE", server.httpBase + "/v1/admin/participants/\(expertID)", token: token)
            #expect(again == 404)

            let (ended, endBody) = try await Self.call("DELETE", server.httpBase + "/v1/admin/sessions/\(session.id)", token: token)
            #expect(ended == 200, "\(String(decoding: endBody, as: UTF8.self))")
            // The cart's client ends its run when told `left` {ended}, well before its 30 s.
            let cartEnded = ContinuousClock.now
            _ = await cart.wait()
            #expect(ContinuousClock.now - cartEnded < .seconds(10))
            #expect(cart.text.contains("left: ended"), "\(cart.text.suffix(800))")
            let list = try await Self.get(SessionList.self, server.httpBase + "/v1/admin/sessions", token: token)
            #expect(!list.sessions.contains { $0.room == "derm-7" })
            let (gone, _) = try await Self.call("GET", server.httpBase + "/v1/admin/sessions/\(session.id)", token: token)
            #expect(gone == 404)

            await server.running.history?.flush()
            let history = try await Self.get(HistoryList.self, server.httpBase + "/v1/admin/history?room=derm-7", token: token)
            let past = try #require(history.consultations.first { $0.id == session.id })
            #expect(past.endReason?.hasPrefix("ended by operator") == true, "\(past)")
            #expect(past.participants.first { $0.participant == expertID }?.leaveReason == "removed")
            #expect(past.participants.first { $0.role == "cart" }?.leaveReason == "ended")

            // The live stream told the whole story, in order.
            server.running.events.finishAll()
            var kinds: [SessionEvent.Kind] = []
            for await event in events where event.consultation == session.id { kinds.append(event.type) }
            #expect(kinds.first == .consultationStarted)
            #expect(kinds.last == .consultationEnded)
            #expect(kinds.filter { $0 == .participantJoined }.count == 2)
            #expect(kinds.filter { $0 == .participantLeft }.count == 2, "one departure each, the removal included: \(kinds)")
            #expect(kinds.filter { $0 == .transportConnected }.count >= 3, "\(kinds)")
            #expect(kinds.contains(.cameraCommand), "the cart's camera advertisement is audited")
        }
    }

    // MARK: Statistics against what the clients measured

    /// The bitrates and loss the API reports for a cart's video (as the relay receives it) and for
    /// the expert's copy (as the relay forwards it) agree with what the expert's client measured.
    @Test func reportedBitratesAndLossAgreeWithTheClients() async throws {
        struct Line: Decodable {
            struct Report: Decodable {
                struct Track: Decodable {
                    struct Stream: Decodable {
                        var bitrateBitsPerSecond: Double
                        var packetsReceived: Int
                        var packetsLost: Int
                    }
                    var kind: String
                    var stream: Stream
                }
                var durationSeconds: Double
                var tracks: [Track]
            }
            var type: String
            var report: Report
        }
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.signaling.tokenSecret = Self.secret }
            let token = try await Self.operatorToken()
            let host = "127.0.0.1:\(server.running.httpPort)"
            let cart = try fixtures.child(builtExecutable("relais-client"), [
                "join", "--url", "ws://\(host)/v1/signaling", "--room", "stroke-stats", "--role", "cart", "--name", "ER cart",
                "--token-secret", Self.secret, "--width", "640", "--height", "360", "--bitrate", "1000", "--duration", "16",
            ])
            let expert = try fixtures.child(builtExecutable("relais-client"), [
                "join", "--url", "ws://\(host)/v1/signaling", "--room", "stroke-stats", "--role", "expert", "--name", "Dr. S",
                "--token-secret", Self.secret, "--no-publish", "--no-decode", "--duration", "13", "--json",
            ])
            _ = try await Self.eventually("video forwarded to the expert") { () -> Bool? in
                let detail = try? await Self.get(Session.self, server.httpBase + "/v1/admin/sessions/stroke-stats", token: token)
                let out = detail?.participants.first { $0.role == "expert" }?.subscribe?.tracks.first { $0.direction == .out && $0.kind == "video" }
                return (out?.packets ?? 0) > 0 ? true : nil
            }
            // Sample the API through the steady part of the run (the rates are per second; average them).
            let started = ContinuousClock.now
            var inbound: [Double] = [], outbound: [Double] = []
            var last: Session?
            try await Task.sleep(for: .seconds(2))
            while ContinuousClock.now - started < .seconds(9) {
                let detail = try await Self.get(Session.self, server.httpBase + "/v1/admin/sessions/stroke-stats", token: token)
                let cartIn = detail.participants.first { $0.role == "cart" }?.publish?.tracks.first { $0.kind == "video" }
                let expertOut = detail.participants.first { $0.role == "expert" }?.subscribe?.tracks.first { $0.kind == "video" }
                if let cartIn, let expertOut {
                    inbound.append(cartIn.bitrateKbps)
                    outbound.append(expertOut.bitrateKbps)
                    #expect(expertOut.fromParticipant == detail.participants.first { $0.role == "cart" }?.id)
                }
                last = detail
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(await expert.wait() == 0, "\(expert.text.suffix(1500))")
            let lines = expert.text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
            let progress = lines.filter { $0.type == "progress" && $0.report.durationSeconds >= 3 && $0.report.durationSeconds <= 11 }
            let measured = progress.compactMap { $0.report.tracks.first { $0.kind == "video" }?.stream.bitrateBitsPerSecond }
            try #require(measured.count >= 5 && inbound.count >= 8, "client samples \(measured.count), API samples \(inbound.count)")
            let client = measured.reduce(0, +) / Double(measured.count) / 1000
            let apiIn = inbound.reduce(0, +) / Double(inbound.count)
            let apiOut = outbound.reduce(0, +) / Double(outbound.count)
            #expect(client > 500, "the cart sends about 1 Mbit/s of video: \(client) kbit/s measured")
            #expect(abs(apiIn - client) / client < 0.10, "API in \(apiIn) kbit/s, client measured \(client) kbit/s")
            #expect(abs(apiOut - client) / client < 0.10, "API out \(apiOut) kbit/s, client measured \(client) kbit/s")

            // Loss: what the expert's receiver reports told the relay is what the expert counted.
            let final = try #require(lines.last { $0.type == "final" }?.report.tracks.first { $0.kind == "video" })
            let out = try #require(last?.participants.first { $0.role == "expert" }?.subscribe?.tracks.first { $0.kind == "video" })
            #expect(abs(out.packetsLost - final.stream.packetsLost) <= max(2, final.stream.packetsReceived / 100),
                    "API \(out.packetsLost) lost, client \(final.stream.packetsLost)")
            #expect(out.roundTripMs != nil, "RTT from the expert's receiver reports")
            let cartIn = try #require(last?.participants.first { $0.role == "cart" }?.publish?.tracks.first { $0.kind == "video" })
            #expect(cartIn.keyframes >= 1)
            #expect(cartIn.packets >= out.packets)
            _ = await cart.wait()
        }
    }

    // MARK: Metrics

    @Test func metricsCountersMoveWithTheTraffic() async throws {
        try await withFixtures { fixtures in
            let server = try await fixtures.server { $0.signaling.tokenSecret = Self.secret }
            let token = try await Self.operatorToken()
            func scrape() async throws -> [String: Double] { try await scrapeMetrics(server.httpBase, token: token) }
            let before = try await scrape()
            #expect((before["relais_rtp_forwarded_total"] ?? 0) == 0)
            let host = "127.0.0.1:\(server.running.httpPort)"
            let cart = try fixtures.keep(Self.client(host, room: "metrics-1", role: "cart", name: "cart", ["--duration", "6"]))
            let expert = try fixtures.keep(Self.client(host, room: "metrics-1", role: "expert", name: "expert", ["--duration", "4", "--no-publish"]))
            let during = try await Self.eventually("traffic in the metrics") { () -> [String: Double]? in
                let now = try await scrape()
                return (now["relais_participants"] ?? 0) == 2 && (now["relais_rtp_forwarded_total"] ?? 0) > 50 ? now : nil
            }
            #expect((during["relais_rooms"] ?? 0) == 1)
            #expect((during["relais_participants_joined_total{role=\"cart\"}"] ?? 0) == 1)
            #expect((during["relais_packets_in_total"] ?? 0) > (before["relais_packets_in_total"] ?? 0))
            #expect((during["relais_bytes_out_total"] ?? 0) > 10_000)
            #expect((during["relais_relay_latency_microseconds{quantile=\"0.99\"}"] ?? 0) > 0, "the relay's own latency is sampled")
            struct Loops: Decodable {
                struct Loop: Decodable {
                    var forwarded: Int
                    var latencySamples: Int
                    var latencyMicrosecondsP99: Double?
                    var drops: [String: Int]
                    var receiveBufferBytes: Int
                }
                var loops: [Loop]
            }
            let media = try await Self.get(Loops.self, server.httpBase + "/v1/admin/media", token: token)
            #expect(media.loops.reduce(0) { $0 + $1.forwarded } > 50)
            #expect(media.loops.reduce(0) { $0 + $1.latencySamples } > 0)
            // Every drop reason is listed, happened or not, under the names /metrics uses.
            for loop in media.loops {
                #expect(Set(loop.drops.keys) == Set(MediaLoopCounters.dropReasons), "\(loop.drops)")
                #expect(loop.receiveBufferBytes > 0)
                for reason in loop.drops.keys {
                    #expect(during.keys.contains { $0.hasPrefix("relais_media_drops_total{") && $0.contains("reason=\"\(reason)\"") }, "\(reason) in /metrics")
                }
            }
            // Root (CI) may pass the sysctl cap: the configured 4 MiB, which the kernel reports doubled.
            if geteuid() == 0 { #expect(media.loops.allSatisfy { $0.receiveBufferBytes >= 2 * MediaConfiguration().socketBufferBytes }) }
            _ = await expert.wait()
            _ = await cart.wait()
            let after = try await scrape()
            #expect((after["relais_rtp_forwarded_total"] ?? 0) > (during["relais_rtp_forwarded_total"] ?? 0))
            #expect((after["relais_participants"] ?? -1) == 0)
            #expect((after["relais_participants_left_total{reason=\"left\"}"] ?? 0) == 2)
            #expect((after["relais_camera_commands_total{result=\"accepted\"}"] ?? 0) >= 1, "the cart advertised its camera")
        }
    }

    // MARK: History across a crash

    /// History written before a `kill -9` of the server is there after a restart; the consultation
    /// the crash interrupted is closed as `server_restart`.
    @Test func historySurvivesKillNine() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relais-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("history.sqlite").path
        let port = 18_000 + Int.random(in: 0..<2000)
        func startServer() throws -> ChildProcess {
            try ChildProcess(builtExecutable("relais-server"), [
                "--token-secret", Self.secret, "--http-port", "\(port)", "--media-port", "0", "--history-path", database,
            ])
        }
        let token = try await Self.operatorToken()
        let base = "http://127.0.0.1:\(port)"
        try await withFixtures { fixtures in
            let first = try fixtures.keep(startServer())
            #expect(await first.waitForOutput("relais-server ready"), "\(first.text)")
            let cart = try fixtures.keep(Self.client("127.0.0.1:\(port)", room: "stroke-crash", role: "cart", name: "ER cart", ["--duration", "30"]))
            let expert = try fixtures.keep(Self.client("127.0.0.1:\(port)", room: "stroke-crash", role: "expert", name: "Dr. C", ["--duration", "30"]))
            // Written: the API reads the history back from SQLite.
            let written = try await Self.eventually("the consultation in the history") { () -> PastConsultation? in
                let list = try await Self.get(HistoryList.self, base + "/v1/admin/history?room=stroke-crash", token: token)
                return list.consultations.first { $0.participants.count == 2 }
            }
            #expect(written.endedAt == nil)
            first.signal(SIGKILL)
            #expect(await first.wait() == SIGKILL, "killed by the signal, not exited")

            let second = try fixtures.keep(startServer())
            #expect(await second.waitForOutput("relais-server ready"), "\(second.text)")
            let list = try await Self.get(HistoryList.self, base + "/v1/admin/history?room=stroke-crash", token: token)
            let survived = try #require(list.consultations.first { $0.id == written.id }, "\(list)")
            #expect(Set(survived.participants.map(\.name)) == ["ER cart", "Dr. C"])
            #expect(survived.endReason == "server_restart")
            #expect(survived.endedAt != nil)
            await cart.stop()
            await expert.stop()
            second.signal(SIGTERM)
            #expect(await second.wait() == 0)
        }
    }
}
