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
