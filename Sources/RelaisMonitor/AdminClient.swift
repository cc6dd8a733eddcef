// The admin API over HTTP (AdminAPI/ADMIN.md), with async-http-client. Every failure becomes a
// `MonitorError` so the CLI can print one line and exit with the status scripts rely on.
public import Foundation
public import RelaisAdmin
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// A client of one relay's admin API with one operator token.
public final class AdminClient: Sendable {
    /// The server as the operator gave it, without a trailing slash (used in messages).
    public let server: String
    private let token: String
    private let http: HTTPClient
    /// Deadline of one request/answer (not of the event stream).
    private let requestTimeout: TimeAmount

    /// Largest answer read: 200 sites' sessions with every track are well under this.
    static let maximumBodyBytes = 64 << 20

    /// - Parameters:
    ///   - server: `http://host:port` (or `https://`), optionally with a path prefix.
    ///   - connectTimeout: how long to wait for TCP (and TLS) before calling the relay unreachable.
    public init(server: String, token: String, connectTimeout: Duration = .seconds(3), requestTimeout: Duration = .seconds(15)) throws(MonitorError) {
        var base = server.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.query == nil else {
            throw .invalidArgument("--server must be an http:// or https:// URL (for example http://127.0.0.1:8088), not \"\(server)\"")
        }
        self.server = base
        self.token = token
        self.requestTimeout = .nanoseconds(Int64(requestTimeout.components.seconds) * 1_000_000_000 + requestTimeout.components.attoseconds / 1_000_000_000)
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(
            connect: .nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000 + connectTimeout.components.attoseconds / 1_000_000_000),
            read: nil)
        // Fail the request on the first refused connection instead of retrying until the deadline:
        // the operator wants "connection refused" now, not a timeout later.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Closes the client's connections. Call once when done.
    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: Routes

    public func sessions() async throws(MonitorError) -> SessionList {
        try await get(["v1", "admin", "sessions"])
    }

    /// A consultation by id (`c-…`) or room name.
    public func session(_ id: String) async throws(MonitorError) -> Session {
        try await get(["v1", "admin", "sessions", id])
    }

    public func endSession(_ id: String) async throws(MonitorError) -> ActionResult {
        try await send(.DELETE, ["v1", "admin", "sessions", id])
    }

    public func removeParticipant(_ id: String) async throws(MonitorError) -> ActionResult {
        try await send(.DELETE, ["v1", "admin", "participants", id])
    }

    public func history(since: Date?, room: String?, limit: Int?) async throws(MonitorError) -> HistoryList {
        try await get(["v1", "admin", "history"], query: Self.query(since: since, room: room, limit: limit))
    }

    public func audit(since: Date?, room: String?, limit: Int?) async throws(MonitorError) -> AuditList {
        try await get(["v1", "admin", "audit"], query: Self.query(since: since, room: room, limit: limit))
    }

    /// The live event stream, until the server closes it or the task is cancelled.
    public func events(consultation: String?) -> AsyncThrowingStream<SessionEvent, any Error> {
        let request = makeRequest(.GET, ["v1", "admin", "events"], query: consultation.map { [("consultation", $0)] } ?? [],
                                  accept: "text/event-stream")
        let (stream, continuation) = AsyncThrowingStream<SessionEvent, any Error>.makeStream()
        let http = self.http
        let server = self.server
        let task = Task {
            do {
                let response: HTTPClientResponse
                do {
                    response = try await http.execute(request, timeout: .hours(24 * 365))
                } catch {
                    throw Self.transportError(error, server: server)
                }
                guard (200..<300).contains(response.status.code) else {
                    let body = try? await response.body.collect(upTo: 1 << 20)
                    throw Self.statusError(response.status, body: body.map { Data($0.readableBytesView) } ?? Data())
                }
                var parser = ServerSentEventParser()
                for try await chunk in response.body {
                    for message in parser.feed(chunk.readableBytesView) {
                        do {
                            continuation.yield(try JSONDecoder.admin.decode(SessionEvent.self, from: Data(message.data.utf8)))
                        } catch {
                            throw MonitorError.badResponse("an event that is not a SessionEvent: \(message.data.prefix(200))")
                        }
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    // MARK: Plumbing

    static func query(since: Date?, room: String?, limit: Int?) -> [(String, String)] {
        var items: [(String, String)] = []
        if let since { items.append(("since", AdminTime.format(since))) }
        if let room { items.append(("room", room)) }
        if let limit { items.append(("limit", String(limit))) }
        return items
    }

    /// `server` + `/`-joined percent-encoded path segments + query.
    static func url(server: String, path: [String], query: [(String, String)]) -> String {
        var url = server + "/" + path.map(percentEncode).joined(separator: "/")
        if !query.isEmpty {
            url += "?" + query.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
        }
        return url
    }

    /// RFC 3986 unreserved characters pass; everything else is `%XX` (so `/`, `?`, `#` in an id or
    /// room never change the route).
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return out
    }

    private func makeRequest(_ method: HTTPMethod, _ path: [String], query: [(String, String)] = [], accept: String = "application/json") -> HTTPClientRequest {
        var request = HTTPClientRequest(url: Self.url(server: server, path: path, query: query))
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: "relais-monitor")
        return request
    }

    private func get<Value: Decodable>(_ path: [String], query: [(String, String)] = []) async throws(MonitorError) -> Value {
        try await send(.GET, path, query: query)
    }

    private func send<Value: Decodable>(_ method: HTTPMethod, _ path: [String], query: [(String, String)] = []) async throws(MonitorError) -> Value {
        let request = makeRequest(method, path, query: query)
        let status: HTTPResponseStatus
        let body: Data
        do {
            let response = try await http.execute(request, timeout: requestTimeout)
            status = response.status
            body = Data(try await response.body.collect(upTo: Self.maximumBodyBytes).readableBytesView)
        } catch {
            throw Self.transportError(error, server: server)
        }
        guard (200..<300).contains(status.code) else { throw Self.statusError(status, body: body) }
        do {
            return try JSONDecoder.admin.decode(Value.self, from: body)
        } catch {
            throw .badResponse("\(method.rawValue) \(path.joined(separator: "/")) is not a \(Value.self): \(Self.describe(error))")
        }
    }

    /// A non-2xx answer as a `MonitorError`, with the contract's error body when there is one.
    static func statusError(_ status: HTTPResponseStatus, body: Data) -> MonitorError {
        let code: String
        let message: String
        if let error = try? JSONDecoder().decode(AdminErrorBody.self, from: body) {
            code = error.error.code
            message = error.error.message
        } else {
            code = ""
            let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            message = text.isEmpty ? status.reasonPhrase : text
        }
        switch status.code {
        case 401, 403: return .tokenRefused(status: Int(status.code), code: code.isEmpty ? (status.code == 401 ? "unauthorized" : "forbidden") : code, message: message)
        case 404: return .notFound(code: code, message: message)
        default: return .http(status: Int(status.code), code: code, message: message)
        }
    }

    /// A failure below HTTP (or a cancellation, passed through as is) as `unreachable`.
    static func transportError(_ error: any Error, server: String) -> MonitorError {
        if let error = error as? MonitorError { return error }
        return .unreachable(server: server, reason: describeTransport(error))
    }

    static func describeTransport(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connection timed out"
            case .deadlineExceeded, .readTimeout: return "timed out waiting for an answer"
            case .remoteConnectionClosed: return "the connection closed before an answer"
            default: break
            }
        }
        if let error = error as? IOError {
            return error.errnoCode == ECONNREFUSED ? "connection refused" : describe(error)
        }
        let text = String(describing: error)
        if text.localizedCaseInsensitiveContains("refused") { return "connection refused" }
        if text.localizedCaseInsensitiveContains("timeout") || text.localizedCaseInsensitiveContains("timed out") { return "connection timed out" }
        return text
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing \(key.stringValue) at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            "\(context.debugDescription) at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default:
            String(describing: error)
        }
    }
}
