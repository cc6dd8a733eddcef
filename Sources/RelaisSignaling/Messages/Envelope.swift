import Foundation

/// JSON framing shared by both directions: `{"type": ..., <body members>}`.
enum Envelope {
    private struct TypeKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        static let type = TypeKey(stringValue: "type")
    }

    /// Encodes `body`'s members beside `type` in one object.
    private struct Typed<Body: Encodable>: Encodable {
        let type: String
        let body: Body
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: TypeKey.self)
            try container.encode(type, forKey: .type)
            try body.encode(to: encoder)
        }
    }

    static func encode(type: String, body: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // The bodies are plain structs of strings, numbers and enums: encoding cannot fail.
        guard let data = try? encoder.encode(Typed(type: type, body: body)) else { return #"{"type":"\#(type)"}"# }
        return String(decoding: data, as: UTF8.self)
    }

    /// Splits a frame into its `type` and raw bytes, or says why it is not a message.
    static func type(of data: Data) throws(SignalingError) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            throw SignalingError(.invalidJSON, "a message is one JSON object")
        }
        guard let type = dictionary["type"] as? String else {
            throw SignalingError(.unknownType, "a message needs a string member \"type\"")
        }
        return type
    }

    static func decode<Body: Decodable>(_ body: Body.Type, type: String, from data: Data) throws(SignalingError) -> Body {
        do {
            return try JSONDecoder().decode(Body.self, from: data)
        } catch let error as DecodingError {
            throw SignalingError(.schemaViolation, "\(type): \(describe(error))")
        } catch {
            throw SignalingError(.schemaViolation, "\(type): \(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "message" : p
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return parent == "message" ? "missing member \"\(key.stringValue)\"" : "missing member \"\(key.stringValue)\" in \(parent)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context)) has the wrong type"
        case .dataCorrupted(let context):
            return "\(path(context)) is invalid"
        @unknown default:
            return "invalid message"
        }
    }
}

/// Checks the constraints JSON types alone don't express (schemas: patterns, lengths, ranges).
enum Constraint {
    static func requestId(_ id: String?) throws(SignalingError) {
        guard let id else { return }
        guard (1...64).contains(id.utf8.count) else {
            throw SignalingError(.schemaViolation, "requestId must be 1 to 64 characters")
        }
    }

    static func room(_ room: String) throws(SignalingError) {
        let allowed = room.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        }
        guard (1...64).contains(room.utf8.count), allowed else {
            throw SignalingError(.schemaViolation, "room must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
        }
    }

    /// RFC 8851 rid-id characters (ALPHA / DIGIT / "-" / "_"), 1 to 16 of them.
    static func rid(_ rid: String?) throws(SignalingError) {
        guard let rid else { return }
        let allowed = rid.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
        }
        guard (1...16).contains(rid.utf8.count), allowed else {
            throw SignalingError(.schemaViolation, "rid must be 1 to 16 characters of A-Z a-z 0-9 _ -, or null")
        }
    }

    static func sdp(_ sdp: String) throws(SignalingError) {
        guard !sdp.isEmpty else { throw SignalingError(.schemaViolation, "sdp must not be empty") }
    }
}
