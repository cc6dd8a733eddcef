import Foundation
import Hummingbird
import Logging
import NIOCore
import RelaisNegotiation
import RelaisAuth
import RelaisWire

/// HTTP signaling routes.
///
/// `POST /v1/echo` is the equipment-test entry point, WHIP-style (draft-ietf-wish-whip, now
/// RFC 9725): the body is an SDP offer (`application/sdp`), the answer comes back with
/// `201 Created`. Any WebRTC stack can run the pre-consultation check with no Relais-specific
/// code. As in WHIP, the request carries a bearer token (`Authorization: Bearer`): any valid
/// participant token, whatever its room and role, since every cart that may join a consultation
/// may test its equipment first. An echo test costs a media transport, so strangers get none,
/// and at most `maxEchoSessions` run at once (`503` with `Retry-After` beyond). Every refusal is
/// counted in `relais_echo_refusals_total{code}`.
struct SignalingRoutes: Sendable {
    let media: MediaServer
    let tokens: TokenAuthority
    let metrics: ServerMetrics
    let capacity: EchoCapacity
    let logger: Logger

    init(media: MediaServer, tokens: TokenAuthority, metrics: ServerMetrics, maxEchoSessions: Int, logger: Logger) {
        self.media = media
        self.tokens = tokens
        self.metrics = metrics
        self.capacity = EchoCapacity(limit: maxEchoSessions, changed: { metrics.echoSessions($0) })
        self.logger = logger
    }

    /// Offers larger than this are refused before parsing (a real offer is a few KiB).
    static let maxOfferBytes = 64 * 1024
    /// Seconds a client refused for capacity is told to wait: about how long a finished test's
    /// transport takes to go (its peer's DTLS close, or ICE consent expiry).
    static let busyRetryAfterSeconds = 30

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/echo") { request, _ -> Response in
            await echo(request)
        }
    }

    /// A refusal of `POST /v1/echo`, counted by its code.
    private func refuse(_ status: HTTPResponse.Status, code: String, _ message: String) -> Response {
        metrics.echoRefused(code: code)
        return Self.problem(status, code: code, message)
    }

    private func echo(_ request: Request) async -> Response {
        // 1. Who: a valid participant token (401 otherwise, RFC 6750 §3).
        let header = request.headers[.authorization] ?? ""
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces) : ""
        do {
            _ = try await tokens.verify(token)
        } catch {
            var response = refuse(.unauthorized, code: error.code.rawValue, "the echo test needs a participant token (Authorization: Bearer): \(error.message)")
            response.headers[.wwwAuthenticate] = "Bearer realm=\"relais-echo\""
            return response
        }
        // 2. What: an SDP offer.
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/sdp") ?? false else {
            return refuse(.unsupportedMediaType, code: "unsupported_media_type", "send the SDP offer as application/sdp")
        }
        // 3. Room for it: the slot is held until the test's transport is gone.
        guard let lease = capacity.reserve() else {
            var response = refuse(.serviceUnavailable, code: "echo_busy", "\(capacity.limit) echo tests are running; try again later")
            response.headers[.retryAfter] = "\(Self.busyRetryAfterSeconds)"
            return response
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maxOfferBytes)
        } catch {
            return refuse(.contentTooLarge, code: "offer_too_large", "SDP offers are limited to \(Self.maxOfferBytes) bytes")
        }
        let offer = String(buffer: body)
        do {
            let answer = try await EchoNegotiation.answer(offer: offer, media: media)
            // The echo session holds the slot: it is freed when the transport goes, however it ends.
            let held = try await media.onLoop(answer.loop) { loop -> Bool in
                guard case .echo(let session)? = loop.entries[answer.transport]?.purpose else { return false }
                session.lease = lease
                return true
            }
            if !held { logger.notice("echo transport ended before its answer was sent", metadata: ["transport": "\(answer.transport)"]) }
            var headers = HTTPFields()
            headers[.contentType] = "application/sdp"
            headers[.location] = "/v1/echo/\(answer.loop)/\(answer.transport)"
            return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.sdp)))
        } catch let error as EchoNegotiationError {
            logger.notice("echo offer refused", metadata: ["error": "\(error)"])
            return refuse(.badRequest, code: error.code, error.description)
        } catch {
            logger.error("echo test failed", metadata: ["error": "\(error)"])
            return refuse(.internalServerError, code: "internal", "the echo test could not start")
        }
    }

    /// A small JSON error body with a stable code.
    static func problem(_ status: HTTPResponse.Status, code: String, _ message: String) -> Response {
        let escaped = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: status, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: "{\"error\":{\"code\":\"\(code)\",\"message\":\"\(escaped)\"}}")))
    }
}
