import Foundation
import Hummingbird
import Logging
import NIOCore
import RelaisNegotiation
import RelaisWire

/// HTTP signaling routes.
///
/// `POST /v1/echo` is the equipment-test entry point, WHIP-style (draft-ietf-wish-whip): the body
/// is an SDP offer (`application/sdp`), the answer comes back with `201 Created`. Any WebRTC stack
/// can run the pre-consultation check with no Relais-specific code.
struct SignalingRoutes: Sendable {
    let media: MediaServer
    let logger: Logger

    /// Offers larger than this are refused before parsing (a real offer is a few KiB).
    static let maxOfferBytes = 64 * 1024

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/echo") { request, _ -> Response in
            guard request.headers[.contentType]?.lowercased().hasPrefix("application/sdp") ?? false else {
                return Self.problem(.unsupportedMediaType, code: "unsupported_media_type", "send the SDP offer as application/sdp")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: Self.maxOfferBytes)
            } catch {
                return Self.problem(.contentTooLarge, code: "offer_too_large", "SDP offers are limited to \(Self.maxOfferBytes) bytes")
            }
            let offer = String(buffer: body)
            do {
                let answer = try await EchoNegotiation.answer(offer: offer, media: media)
                var headers = HTTPFields()
                headers[.contentType] = "application/sdp"
                headers[.location] = "/v1/echo/\(answer.loop)/\(answer.transport)"
                return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.sdp)))
            } catch let error as EchoNegotiationError {
                logger.notice("echo offer refused", metadata: ["error": "\(error)"])
                return Self.problem(.badRequest, code: error.code, error.description)
            }
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
