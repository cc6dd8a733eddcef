import ArgumentParser
import Foundation
import RelaisMonitor
import Testing
@testable import relais_monitor

@Suite struct ArgumentParsingTests {
    @Test func sessionsIsTheDefaultCommand() throws {
        let command = try RelaisMonitorCommand.parseAsRoot(["--json", "--server", "http://10.0.0.1:9000"])
        let sessions = try #require(command as? Sessions)
        #expect(sessions.global.json)
        #expect(sessions.global.resolvedServer(environment: [:]) == "http://10.0.0.1:9000")
    }

    @Test func serverAndTokenFromTheEnvironmentWhenNotGiven() throws {
        let show = try #require(try RelaisMonitorCommand.parseAsRoot(["show", "stroke-1"]) as? Show)
        #expect(show.id == "stroke-1")
        let environment = ["RELAIS_SERVER": "http://relay:8088", "RELAIS_OPERATOR_TOKEN": "tok"]
        #expect(show.global.resolvedServer(environment: environment) == "http://relay:8088")
        #expect(try show.global.resolvedToken(environment: environment) == "tok")
        #expect(show.global.resolvedServer(environment: [:]) == "http://127.0.0.1:8088")
        #expect(throws: MonitorError.noToken) { try show.global.resolvedToken(environment: [:]) }
        // The flag wins over the environment.
        let flagged = try #require(try RelaisMonitorCommand.parseAsRoot(["show", "x", "--token", "mine"]) as? Show)
        #expect(try flagged.global.resolvedToken(environment: environment) == "mine")
    }

    /// Operators type global options first, as with kubectl or lk (issue 14): they used to be
    /// refused before the command's name.
    @Test func globalOptionsBeforeTheCommand() throws {
        let sessions = try #require(
            try RelaisMonitorCommand.parseAsRoot(["--server", "http://10.0.0.1:9000", "--token", "tok", "--json", "sessions"]) as? Sessions)
        #expect(sessions.global.resolvedServer(environment: [:]) == "http://10.0.0.1:9000")
        #expect(try sessions.global.resolvedToken(environment: [:]) == "tok")
        #expect(sessions.global.json)

        let show = try #require(try RelaisMonitorCommand.parseAsRoot(["--server", "http://relay:8088", "show", "c-1"]) as? Show)
        #expect(show.id == "c-1")
        #expect(show.global.resolvedServer(environment: [:]) == "http://relay:8088")
        #expect(!show.global.json)

        let watch = try #require(try RelaisMonitorCommand.parseAsRoot(["--json", "watch", "c-1", "--count", "2"]) as? Watch)
        #expect(watch.global.json && watch.id == "c-1" && watch.count == 2)

        let events = try #require(try RelaisMonitorCommand.parseAsRoot(["--token", "tok", "events", "--consultation", "c-9"]) as? Events)
        #expect(try events.global.resolvedToken(environment: [:]) == "tok")
        #expect(events.consultation == "c-9")
    }

    /// Before and after the name in one command line: each option lands where it belongs.
    @Test func globalOptionsOnBothSidesOfTheCommand() throws {
        let history = try #require(
            try RelaisMonitorCommand.parseAsRoot(["--server", "http://relay:8088", "history", "--since", "7d", "--token", "tok", "--json"])
                as? History)
        #expect(history.global.resolvedServer(environment: [:]) == "http://relay:8088")
        #expect(try history.global.resolvedToken(environment: [:]) == "tok")
        #expect(history.global.json)
        #expect(history.window.since?.spec == .ago(seconds: 604_800))
        let kick = try #require(try RelaisMonitorCommand.parseAsRoot(["--token", "tok", "kick", "p-3", "--server", "http://relay:8088"]) as? Kick)
        #expect(kick.participant == "p-3")
        #expect(kick.global.resolvedServer(environment: [:]) == "http://relay:8088")
        #expect(try kick.global.resolvedToken(environment: [:]) == "tok")
    }

    /// What the process does with global options first: the same exit statuses as after.
    @Test func globalOptionsFirstReachTheCommand() async {
        #expect(await RelaisMonitorMain.run(["--token", "", "sessions"]) == 2)
        #expect(await RelaisMonitorMain.run(["--token", "t", "--server", "ftp://relay", "sessions"]) == 64)
        #expect(await RelaisMonitorMain.run(["--token", "t", "--server", "ftp://relay", "watch", "--count", "1"]) == 64)
    }

    /// The root's help and each command's help list the global options.
    @Test func helpListsTheGlobalOptions() {
        for help in [RelaisMonitorCommand.helpMessage(), Sessions.helpMessage(), Show.helpMessage(), History.helpMessage()] {
            #expect(help.contains("--server <URL>") && help.contains("--token <TOKEN>") && help.contains("--json"))
        }
    }

    @Test func historyOptions() throws {
        let history = try #require(try RelaisMonitorCommand.parseAsRoot(["history", "--since", "7d", "--room", "derm-7", "--limit", "5"]) as? History)
        #expect(history.window.since?.spec == .ago(seconds: 604_800))
        #expect(history.window.room == "derm-7")
        #expect(history.window.limit == 5)
        let audit = try #require(try RelaisMonitorCommand.parseAsRoot(["audit", "--room", "stroke-1", "--since", "2026-11-25"]) as? Audit)
        #expect(audit.window.since?.spec == .at(Date(timeIntervalSince1970: 1_795_564_800)))
    }

    @Test func watchOptions() throws {
        let watch = try #require(try RelaisMonitorCommand.parseAsRoot(["watch", "c-1", "--interval", "0.5"]) as? Watch)
        #expect(watch.id == "c-1")
        #expect(watch.interval == 0.5)
        let all = try #require(try RelaisMonitorCommand.parseAsRoot(["watch"]) as? Watch)
        #expect(all.id == nil && all.interval == 1 && all.count == nil)
    }

    @Test(arguments: [
        ["show"], ["end"], ["kick"], ["history", "--since", "yesterday"], ["history", "--since", "24"], ["audit", "--limit", "0"],
        ["watch", "--interval", "0"], ["watch", "--interval", "abc"], ["sessions", "extra"], ["frobnicate", "x"], ["--bogus"],
    ])
    func badCommandLinesAreRefused(arguments: [String]) {
        #expect(throws: (any Error).self) { try RelaisMonitorCommand.parseAsRoot(arguments) }
    }

    @Test(arguments: [["show"], ["history", "--since", "yesterday"], ["watch", "--interval", "0"]])
    func badCommandLinesExitWithUsage(arguments: [String]) async {
        #expect(await RelaisMonitorMain.run(arguments) == 64)
    }

    @Test func noTokenExitsTwo() async {
        #expect(await RelaisMonitorMain.run(["sessions", "--token", ""]) == 2)
        #expect(await RelaisMonitorMain.run(["watch", "--token", ""]) == 2)
        #expect(MonitorError.noToken.description.contains("relais-server token --operator --name NAME"))
    }

    @Test func aServerThatIsNotAURLIsRefused() async {
        #expect(await RelaisMonitorMain.run(["sessions", "--token", "t", "--server", "127.0.0.1:8088"]) == 64)
        #expect(await RelaisMonitorMain.run(["sessions", "--token", "t", "--server", "ftp://relay"]) == 64)
    }

    @Test func helpExitsZero() async {
        #expect(await RelaisMonitorMain.run(["--help"]) == 0)
    }
}
