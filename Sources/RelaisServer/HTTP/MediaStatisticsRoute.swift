import Foundation
import Hummingbird
import NIOCore

/// `GET /v1/admin/media`: every media loop's `RelayStatistics` as `{"loops":[...]}`;
/// `?resetLatency=true` starts a new latency window after reading.
///
/// Interim and UNAUTHENTICATED (it reveals traffic volumes only, and the server binds loopback by
/// default): the operator-authenticated admin API replaces it with the same path and body.
struct MediaStatisticsRoute: Sendable {
    let media: MediaServer

    struct Body: Encodable {
        var loops: [RelayStatistics]
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v1/admin/media") { request, _ -> Response in
            let reset = request.uri.queryParameters.get("resetLatency").map { $0 == "true" || $0 == "1" } ?? false
            let loops = try await media.relayStatistics(resetLatency: reset)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(Body(loops: loops)))))
        }
    }
}
