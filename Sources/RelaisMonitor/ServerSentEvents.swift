// The reader of `GET /v1/admin/events`: server-sent events as the HTML Living Standard
// ("9.2 Server-sent events", "Interpreting an event stream") defines them, fed bytes in whatever
// chunks the network delivers.

/// One dispatched event.
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field; `message` when the event has none.
    public var event: String
    /// The `data:` lines joined with `\n`.
    public var data: String
    /// The last `id:` seen on the stream (it persists across events, per the standard).
    public var id: String?

    public init(event: String = "message", data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// Incremental parser: feed it bytes, get the events they complete.
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var afterCR = false
    private var eventType = ""
    private var data = ""
    private var hasData = false
    private var lastEventId: String?
    /// The `retry:` value, milliseconds, when the server sent one.
    public private(set) var retryMilliseconds: Int?

    /// Lines longer than this are cut off: a stream from a misbehaving server must not grow memory
    /// without bound.
    public static let maximumLineLength = 1 << 20

    public init() {}

    /// Feeds bytes; returns the events completed by them. Lines end with CRLF, LF or CR.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == UInt8(ascii: "\n") { continue }  // the LF of a CRLF split across chunks or not
            }
            switch byte {
            case UInt8(ascii: "\r"):
                afterCR = true
                if let event = endLine() { events.append(event) }
            case UInt8(ascii: "\n"):
                if let event = endLine() { events.append(event) }
            default:
                if line.count < Self.maximumLineLength { line.append(byte) }
            }
        }
        return events
    }

    /// Feeds one complete line (without its line terminator).
    public mutating func feed(line text: String) -> ServerSentEvent? {
        line = Array(text.utf8)
        return endLine()
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }  // a comment (keep-alive)
        let field: String
        var value: String
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: line[..<colon], as: UTF8.self)
            var start = line.index(after: colon)
            if start < line.endIndex, line[start] == UInt8(ascii: " ") { start = line.index(after: start) }
            value = String(decoding: line[start...], as: UTF8.self)
        } else {
            field = String(decoding: line, as: UTF8.self)
            value = ""
        }
        switch field {
        case "event":
            eventType = value
        case "data":
            if hasData { data += "\n" }
            data += value
            hasData = true
        case "id":
            if !value.utf8.contains(0) { lastEventId = value }
        case "retry":
            if !value.isEmpty, value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let ms = Int(value) {
                retryMilliseconds = ms
            }
        default:
            value = ""  // unknown fields are ignored
        }
        return nil
    }

    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            eventType = ""
            data = ""
            hasData = false
        }
        guard hasData else { return nil }
        return ServerSentEvent(event: eventType.isEmpty ? "message" : eventType, data: data, id: lastEventId)
    }
}
