import Foundation
import RelaisAdmin
import Testing

/// `AdminAPI/schemas/*.schema.json` against what `JSONEncoder.admin` really writes, with Python's
/// jsonschema (installed by .ci/run from Tests/requirements.txt), so the schemas cannot drift from
/// the Swift model unnoticed.
@Suite struct SchemaTests {
    static let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("AdminAPI/schemas")

    /// Validates `json` against `schema`; returns nil when valid, else jsonschema's message.
    static func validate(_ json: Data, schema: String) throws -> String? {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("relais-monitor-schema-\(UUID().uuidString).json")
        try json.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            jsonschema.Draft202012Validator.check_schema(schema)
            errors = list(jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(doc))
            print("; ".join(e.message for e in errors)); sys.exit(1 if errors else 0)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, schemas.appendingPathComponent(schema).path, file.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : (output.isEmpty ? "python exited \(process.terminationStatus)" : output)
    }

    @Test func sessionListAsEncodedValidates() throws {
        let json = try JSONEncoder.admin.encode(Fixtures.list)
        #expect(try Self.validate(json, schema: "sessions.schema.json") == nil)
        // Optionals that are nil are left out, not written as null.
        #expect(!String(decoding: json, as: UTF8.self).contains("null"))
        #expect(try Self.validate(try JSONEncoder.admin.encode(SessionList(generatedAt: Fixtures.now, sessions: [])), schema: "sessions.schema.json") == nil)
    }

    @Test func sessionsSchemaCatchesDrift() throws {
        let json = try JSONEncoder.admin.encode(Fixtures.list)
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        var sessions = try #require(object["sessions"] as? [[String: Any]])
        sessions[0]["unexpected"] = 1
        object["sessions"] = sessions
        #expect(try Self.validate(try JSONSerialization.data(withJSONObject: object), schema: "sessions.schema.json") != nil)
        // Dates without milliseconds are not what the admin encoder writes.
        let seconds = String(decoding: json, as: UTF8.self).replacingOccurrences(of: ".500Z", with: "Z")
        #expect(try Self.validate(Data(seconds.utf8), schema: "sessions.schema.json") != nil)
    }

    @Test func errorAndEventValidate() throws {
        #expect(try Self.validate(try JSONEncoder.admin.encode(AdminErrorBody(code: "not_found", message: "no consultation c-1")), schema: "error.schema.json") == nil)
        let event = SessionEvent(type: .participantDisconnected, at: Fixtures.now, consultation: "c-1", room: "stroke-1", participant: "p-1")
        #expect(try Self.validate(try JSONEncoder.admin.encode(event), schema: "event.schema.json") == nil)
        let bare = SessionEvent(type: .consultationStarted, at: Fixtures.now, consultation: "c-1", room: "stroke-1")
        #expect(try Self.validate(try JSONEncoder.admin.encode(bare), schema: "event.schema.json") == nil)
        #expect(try Self.validate(Data(#"{"type":"nope","at":"2026-11-25T14:27:27.500Z","consultation":"c","room":"r"}"#.utf8), schema: "event.schema.json") != nil)
    }
}
