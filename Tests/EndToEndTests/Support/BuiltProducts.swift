import Foundation

/// Where SwiftPM put this package's executables for the build being tested.
///
/// The test runner (`RelaisPackageTests.xctest`) is built into the same bin directory as the
/// products (`swift build --show-bin-path`), whatever the configuration, triple or `--scratch-path`,
/// so the directory is found from the running test executable, not assumed to be `.build/debug`.
/// `RELAIS_BIN_PATH` overrides it (tests run against binaries built elsewhere).
enum BuiltProducts {
    static let binDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["RELAIS_BIN_PATH"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        // Beside the running test executable (Linux runs the .xctest itself), or beside the
        // loaded .xctest bundle (macOS runs it inside xctest).
        let candidates = [Bundle.main.executableURL, URL(fileURLWithPath: CommandLine.arguments.first ?? "")]
            .compactMap { $0?.resolvingSymlinksInPath().deletingLastPathComponent() }
            + Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }.map { $0.deletingLastPathComponent() }
        let products = ["relais-server", "relais-client", "relais-monitor"]
        if let found = candidates.first(where: { directory in
            products.contains { FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent($0).path) }
        }) {
            return found
        }
        // Last resort (a runner that lives elsewhere): ask SwiftPM for the package's bin path.
        return showBinPath() ?? candidates.first ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// `swift build --show-bin-path` in the package's root (found from this file's path).
    private static func showBinPath() -> URL? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift", "build", "--show-bin-path", "--package-path", root.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !path.isEmpty ? URL(fileURLWithPath: path, isDirectory: true) : nil
    }
}

/// The path of one of this package's executables (relais-server, relais-client, relais-monitor).
func builtExecutable(_ name: String) -> String {
    BuiltProducts.binDirectory.appendingPathComponent(name).path
}
