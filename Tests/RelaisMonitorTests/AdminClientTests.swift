import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import RelaisAdmin
import Testing
@testable import RelaisMonitor
@testable import relais_monitor

/// A real HTTP listener on loopback answering canned responses by path, so the client's error
/// mapping is tested over TCP (the lead's end-to-end tests do the same against the real relay).
final class CannedServer: Sendable {
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var body: String
        var contentType = "application/json"
    }

    let channel: any Channel
    var base: String { "http://127.0.0.1:\(channel.localAddress?.port ?? 0)" }

    init(_ answers: [String: Answer]) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(answers: answers))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let answers: [String: Answer]
        var uri = ""
        var authorization = ""
        init(answers: [String: Answer]) { self.answers = answers }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                uri = head.uri
                authorization = head.headers.first(name: "authorization") ?? ""
            case .body:
                break
            case .end:
                let path = String(uri.split(separator: "?").first ?? "")
                var answer = answers[path] ?? Answer(status: .notFound, body: #"{"error":{"code":"not_found","message":"no route \#(path)"}}"#)
                if authorization != "Bearer good" {
                    answer = Answer(status: .unauthorized, body: #"{"error":{"code":"unauthorized","message":"token rejected: signature"}}"#)
                }
                var headers = HTTPHeaders([("content-type", answer.contentType), ("content-length", String(answer.body.utf8.count))])
                headers.add(name: "connection", value: "close")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: answer.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
            }
        }
    }
}

@Suite(.serialized) struct AdminClientTests {
    static func sessionsJSON() throws -> String {
        String(decoding: try JSONEncoder.admin.encode(Fixtures.list), as: UTF8.self)
    }

    @Test func decodesSessions() async throws {
        let server = try await CannedServer(["/v1/admin/sessions": .init(status: .ok, body: try Self.sessionsJSON())])
        let client = try AdminClient(server: server.base + "/", token: "good")
        let list = try await client.sessions()
        #expect(list == Fixtures.list)
        await client.shutdown()
        await server.stop()
    }

    @Test func refusedTokens() async throws {
        let server = try await CannedServer([
            "/v1/admin/sessions/forbidden": .init(status: .forbidden, body: #"{"error":{"code":"forbidden","message":"a participant token does not give access to the admin API"}}"#),
        ])
        let wrong = try AdminClient(server: server.base, token: "bad")
        await #expect(throws: MonitorError.tokenRefused(status: 401, code: "unauthorized", message: "token rejected: signature")) {
            try await wrong.sessions()
        }
        await wrong.shutdown()
        let client = try AdminClient(server: server.base, token: "good")
        do {
            _ = try await client.session("forbidden")
            Issue.record("expected a refusal")
        } catch {
            #expect(error.exitStatus == 4)
            #expect(error.description == "the relay refused the operator token (forbidden): a participant token does not give access to the admin API")
        }
        await client.shutdown()
        await server.stop()
    }

    @Test func notFoundAndOtherErrors() async throws {
        let server = try await CannedServer([
            "/v1/admin/sessions/boom": .init(status: .internalServerError, body: "oops", contentType: "text/plain"),
            "/v1/admin/sessions/garbage": .init(status: .ok, body: #"{"id":1}"#),
        ])
        let client = try AdminClient(server: server.base, token: "good")
        await #expect(throws: MonitorError.notFound(code: "not_found", message: "no route /v1/admin/sessions/c-gone")) {
            try await client.session("c-gone")
        }
        await #expect(throws: MonitorError.http(status: 500, code: "", message: "oops")) { try await client.session("boom") }
        do {
            _ = try await client.session("garbage")
            Issue.record("expected a bad response")
        } catch {
            #expect(error.exitStatus == 1)
            guard case .badResponse = error else { Issue.record("\(error)"); return }
        }
        await client.shutdown()
        await server.stop()
    }

    @Test func idsAndQueriesArePercentEncoded() {
        #expect(AdminClient.url(server: "http://h:1", path: ["v1", "admin", "sessions", "room/with space?"], query: [])
                == "http://h:1/v1/admin/sessions/room%2Fwith%20space%3F")
        let since = Date(timeIntervalSince1970: 1_795_593_600)
        #expect(AdminClient.url(server: "http://h:1", path: ["v1", "admin", "history"], query: AdminClient.query(since: since, room: "a&b", limit: 3))
                == "http://h:1/v1/admin/history?since=2026-11-25T08%3A00%3A00.000Z&room=a%26b&limit=3")
    }

    @Test func unreachableRelay() async throws {
        // A port that was just free: bind, note it, close.
        let probe = try await CannedServer([:])
        let base = probe.base
        await probe.stop()
        let client = try AdminClient(server: base, token: "good")
        await #expect(throws: MonitorError.unreachable(server: base, reason: "connection refused")) { try await client.sessions() }
        await client.shutdown()
        #expect(MonitorError.unreachable(server: base, reason: "connection refused").description
                == "cannot reach the relay at \(base): connection refused")
    }

    @Test func exitStatusesThroughTheCommandLine() async throws {
        let server = try await CannedServer([
            "/v1/admin/sessions": .init(status: .ok, body: try Self.sessionsJSON()),
            "/v1/admin/sessions/c-stroke": .init(status: .ok, body: String(decoding: try JSONEncoder.admin.encode(Fixtures.stroke), as: UTF8.self)),
        ])
        #expect(await RelaisMonitorMain.run(["sessions", "--server", server.base, "--token", "good", "--json"]) == 0)
        #expect(await RelaisMonitorMain.run(["show", "c-stroke", "--server", server.base, "--token", "good"]) == 0)
        #expect(await RelaisMonitorMain.run(["watch", "--server", server.base, "--token", "good", "--count", "2", "--interval", "0.1"]) == 0)
        #expect(await RelaisMonitorMain.run(["sessions", "--server", server.base, "--token", "bad"]) == 4)
        #expect(await RelaisMonitorMain.run(["show", "nope", "--server", server.base, "--token", "good"]) == 5)
        #expect(await RelaisMonitorMain.run(["end", "nope", "--server", server.base, "--token", "good"]) == 5)
        let base = server.base
        await server.stop()
        #expect(await RelaisMonitorMain.run(["sessions", "--server", base, "--token", "good"]) == 3)
        #expect(await RelaisMonitorMain.run(["watch", "--server", base, "--token", "good", "--count", "1"]) == 3)
    }
}
