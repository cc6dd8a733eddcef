import Foundation

@testable import RelaisHistory

/// A date `seconds` after a fixed origin, at millisecond precision as the store keeps it.
func t(_ seconds: Double) -> Date {
    Date(timeIntervalSince1970: ((1_750_000_000 + seconds) * 1000).rounded() / 1000)
}

/// A fresh directory under the system's temporary directory, removed by `cleanup()`.
struct TemporaryDirectory: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("relais-history-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

func memoryStore(retention: Duration = .seconds(90 * 86_400)) throws -> HistoryStore {
    try HistoryStore(configuration: HistoryConfiguration(path: ":memory:", retention: retention))
}

func command(
    at: Date, room: String = "room-a", consultation: String? = "c1", participant: String = "p1",
    camera: String = "cam-1", command: String = "pan", result: String = "forwarded", detail: String? = nil
) -> CameraCommandRecord {
    CameraCommandRecord(
        at: at, room: room, consultation: consultation, participant: participant, camera: camera, command: command,
        result: result, detail: detail)
}
