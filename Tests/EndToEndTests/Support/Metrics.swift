import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// One `/metrics` scrape as series name (labels kept, the media loop's label summed away) → value,
/// so tests compare counters before and after what they did.
func scrapeMetrics(_ base: String, token: String) async throws -> [String: Double] {
    let (status, body) = try await AdminAPITests.call("GET", base + "/metrics", token: token)
    try #require(status == 200)
    var values: [String: Double] = [:]
    for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        guard parts.count == 2, let value = Double(parts[1]) else { continue }
        let name = String(parts[0]).replacingOccurrences(of: #"loop="\d+",?"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: "{}", with: "")
        values[name, default: 0] += value
    }
    return values
}
