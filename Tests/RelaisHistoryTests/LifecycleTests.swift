import Foundation
import Testing

@testable import RelaisHistory

@Suite("Opening and closing")
struct LifecycleTests {
    @Test func openCreatesParentDirectoriesAndKeepsRowsAcrossReopen() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("a/b/c/history.sqlite")
        let configuration = HistoryConfiguration(path: path, retention: .seconds(100 * 365 * 86_400))
        let store = try HistoryStore(configuration: configuration)
        try store.consultationStarted(id: "c1", room: "r", at: t(0))
        try store.close()
        #expect(FileManager.default.fileExists(atPath: path))

        let reopened = try HistoryStore(configuration: configuration)
        #expect(try reopened.consultation(id: "c1")?.room == "r")
        try reopened.close()
    }

    @Test func closingTwiceIsFineAndLaterCallsThrowClosed() throws {
        let directory = try TemporaryDirectory()
        let store = try HistoryStore(configuration: HistoryConfiguration(path: directory.path("h.sqlite")))
        try store.close()
        try store.close()
        #expect(throws: HistoryError.closed) { try store.consultationStarted(id: "c", room: "r", at: t(0)) }
        #expect(throws: HistoryError.closed) { try store.consultations(since: t(0)) }

        let memory = try memoryStore()
        try memory.close()
        try memory.close()
        #expect(throws: HistoryError.closed) { try memory.prune() }
    }

    @Test func openFailuresAreTypedWithClearMessages() throws {
        #expect(throws: HistoryError.self) { try HistoryStore(configuration: HistoryConfiguration(path: "")) }

        let directory = try TemporaryDirectory()
        // The parent "directory" is a regular file.
        let file = directory.path("plain")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        do {
            _ = try HistoryStore(configuration: HistoryConfiguration(path: file + "/h.sqlite"))
            Issue.record("opened under a regular file")
        } catch let error as HistoryError {
            guard case .cannotCreateDirectory = error else { throw error }
            #expect(error.description.contains(file))
        }

        // Not a database.
        let garbage = directory.path("garbage.sqlite")
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: garbage))
        do {
            _ = try HistoryStore(configuration: HistoryConfiguration(path: garbage))
            Issue.record("opened a file that is not a database")
        } catch let error as HistoryError {
            switch error {
            case .cannotOpen, .migrationFailed: #expect(error.description.contains(garbage))
            default: throw error
            }
        }

        // The path is a directory.
        do {
            _ = try HistoryStore(configuration: HistoryConfiguration(path: directory.url.path))
            Issue.record("opened a directory")
        } catch let error as HistoryError {
            #expect(error.description.hasPrefix("history: "))
        }
    }

    @Test func defaultRetentionIsNinetyDays() {
        #expect(HistoryConfiguration(path: ":memory:").retention == .seconds(90 * 86_400))
    }
}
