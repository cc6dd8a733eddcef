// relais-monitor: the operators' command line over the relay's admin API (AdminAPI/ADMIN.md).
// Argument parsing and process concerns live here (exit statuses, signals, the terminal); the HTTP
// client and the screens are RelaisMonitor's.
import ArgumentParser
import Foundation
import RelaisAdmin
import RelaisMonitor

@main
enum RelaisMonitorMain {
    static func main() async {
        let status = await run(CommandLine.arguments.dropFirst().map { $0 })
        exit(status)
    }

    /// Parses and runs one command line; returns the exit status (errors already printed).
    static func run(_ arguments: [String]) async -> Int32 {
        do {
            var command = try RelaisMonitorCommand.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return MonitorError.ExitStatus.success
        } catch let error as MonitorError {
            printError("relais-monitor: \(error)")
            return error.exitStatus
        } catch {
            let code = RelaisMonitorCommand.exitCode(for: error)
            let message = RelaisMonitorCommand.fullMessage(for: error)
            if !message.isEmpty {
                if code == .success { print(message) } else { printError(message) }
            }
            return code.rawValue
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
}

/// Writes to standard output now (frames must not wait in a buffer).
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

struct RelaisMonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais-monitor",
        abstract: "Watch and steer a running relais-server through its admin API.",
        discussion: """
            The server and the operator token come from --server/--token or from RELAIS_SERVER and \
            RELAIS_OPERATOR_TOKEN. Mint a development token with `relais-server token --operator --name NAME`. \
            The options --server, --token and --json go before or after the command: \
            `relais-monitor --server URL sessions` is `relais-monitor sessions --server URL`.

            Exit status: 0 done; 1 the relay answered with another error (or an unexpected body); \
            2 no operator token given; 3 the relay cannot be reached; 4 the relay refused the token \
            (401 unauthorized, 403 forbidden); 5 no such consultation, room or participant (404); \
            64 a command line that cannot be parsed.
            """,
        subcommands: [Sessions.self, Show.self, Watch.self, End.self, Kick.self, History.self, Audit.self, Events.self],
        defaultSubcommand: Sessions.self)

    /// The global options given before the command (`relais-monitor --server URL sessions`, as
    /// operators type them with kubectl or lk). Every command declares the same group, and
    /// ArgumentParser decodes a group type once per command line: the root's parse takes these
    /// options wherever they stand, before or after the command's name, and each command's
    /// `global` is that same value.
    @OptionGroup var global: GlobalOptions
}

/// The options every command takes, before or after its name.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The relay's admin API (env RELAIS_SERVER; default http://127.0.0.1:8088).", valueName: "URL"))
    var server: String?

    @Option(help: ArgumentHelp("Operator token (env RELAIS_OPERATOR_TOKEN).", valueName: "TOKEN"))
    var token: String?

    @Flag(help: "Print the API's JSON (one document; `watch`: one line per refresh) instead of tables.")
    var json = false

    static let defaultServer = "http://127.0.0.1:8088"

    func resolvedServer(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        server ?? environment["RELAIS_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultServer
    }

    func resolvedToken(environment: [String: String] = ProcessInfo.processInfo.environment) throws(MonitorError) -> String {
        guard let token = token ?? environment["RELAIS_OPERATOR_TOKEN"], !token.isEmpty else { throw .noToken }
        return token
    }

    /// A client for the resolved server and token; the caller shuts it down.
    func client() throws(MonitorError) -> AdminClient {
        let token = try resolvedToken()
        return try AdminClient(server: resolvedServer(), token: token)
    }

    /// Runs `body` with a client, always shutting it down.
    func withClient<T>(_ body: (AdminClient) async throws -> T) async throws -> T {
        let client = try client()
        do {
            let value = try await body(client)
            await client.shutdown()
            return value
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// One JSON document, re-encoded the API's way.
    func printJSON(_ value: some Encodable) throws {
        let data = try JSONEncoder.admin.encode(value)
        emit(String(decoding: data, as: UTF8.self) + "\n")
    }
}

/// `--since 24h|7d|ISO8601`.
struct SinceOption: ExpressibleByArgument {
    var spec: TimeSpec
    init?(argument: String) {
        guard let spec = TimeSpec(argument) else { return nil }
        self.spec = spec
    }
    static var defaultValueDescription: String { "24h" }
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Live consultations, one row each (the default command).")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.withClient { client in
            let list = try await client.sessions()
            if global.json { try global.printJSON(list) } else { emit(Render.sessions(list, now: Date())) }
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One consultation in detail: participants, peer connections, tracks, cameras.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Consultation id (c-…) or room name.") var id: String

    func run() async throws {
        try await global.withClient { client in
            let session = try await client.session(id)
            if global.json { try global.printJSON(session) } else { emit(Render.session(session, now: Date())) }
        }
    }
}

struct End: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End a consultation: every participant is told and disconnected.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Consultation id (c-…) or room name.") var id: String

    func run() async throws {
        try await global.withClient { client in
            let result = try await client.endSession(id)
            if global.json { try global.printJSON(result) } else { emit(Render.ended(result)) }
        }
    }
}

struct Kick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove one participant from its consultation.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Participant id (p-…).") var participant: String

    func run() async throws {
        try await global.withClient { client in
            let result = try await client.removeParticipant(participant)
            if global.json { try global.printJSON(result) } else { emit(Render.kicked(participant, result)) }
        }
    }
}

/// The time window, room and limit shared by `history` and `audit`.
struct WindowOptions: ParsableArguments {
    @Option(help: "How far back: 90s, 30m, 24h, 7d, 2w, or an ISO 8601 time or date (UTC).") var since: SinceOption?
    @Option(help: "Only this room.") var room: String?
    @Option(help: "At most this many rows (server defaults: 200 consultations, 1000 audit entries; cap 10000).") var limit: Int?

    func validate() throws {
        if let limit, limit <= 0 { throw ValidationError("--limit must be a positive number") }
    }

    /// The window's start; 24 hours back by default.
    func start(now: Date) -> Date {
        (since?.spec ?? .ago(seconds: 86_400)).resolve(now: now)
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Past consultations, newest first (start, end, duration, room, participants, end reason).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var window: WindowOptions

    func run() async throws {
        let now = Date()
        try await global.withClient { client in
            let list = try await client.history(since: window.start(now: now), room: window.room, limit: window.limit)
            if global.json { try global.printJSON(list) } else { emit(Render.history(list, now: now)) }
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Camera commands and errors, oldest first.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var window: WindowOptions

    func run() async throws {
        let now = Date()
        try await global.withClient { client in
            let list = try await client.audit(since: window.start(now: now), room: window.room, limit: window.limit)
            if global.json { try global.printJSON(list) } else { emit(Render.audit(list)) }
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow the live session events (server-sent events) until Ctrl-C.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this consultation.") var consultation: String?

    func run() async throws {
        try await global.withClient { client in
            for try await event in client.events(consultation: consultation) {
                if global.json { try global.printJSON(event) } else { emit(Render.event(event)) }
            }
        }
    }
}
