import Foundation
import RelaisServer
import Synchronization

/// Something a test starts and must stop before the next test starts its own: a relay, a child
/// process, a proxy.
protocol Fixture: Sendable {
    func stop() async
}

extension ServerHarness: Fixture {}
extension ChildProcess: Fixture {}
extension TCPProxy: Fixture {}

/// The fixtures one test started, stopped newest first when the test ends.
///
/// `defer { Task { await server.stop() } }` does not wait: the next test of a serialized suite
/// started while the previous test's relay and child processes were still shutting down, and on a
/// 2-core machine the two competed for the cores (and the stragglers' logs landed in the wrong test).
final class Fixtures: Sendable {
    private let started = Mutex<[any Fixture]>([])

    /// Stops `fixture` when the test ends; returns it.
    @discardableResult
    func keep<F: Fixture>(_ fixture: F) -> F {
        started.withLock { $0.append(fixture) }
        return fixture
    }

    /// A relay in this process (ServerHarness), stopped when the test ends.
    func server(_ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> ServerHarness {
        keep(try await ServerHarness.start(configure: configure))
    }

    /// A child process, killed (if still running) and reaped when the test ends.
    func child(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ChildProcess {
        keep(try ChildProcess(executable, arguments, environment: environment))
    }

    fileprivate func stopAll() async {
        let fixtures = started.withLock { all in
            defer { all = [] }
            return all
        }
        for fixture in fixtures.reversed() { await fixture.stop() }
    }
}

/// Runs a test body, then stops (and awaits) every fixture it kept, whether the body returned or
/// threw, so consecutive tests never overlap.
func withFixtures(_ body: (Fixtures) async throws -> Void) async throws {
    let fixtures = Fixtures()
    do {
        try await body(fixtures)
    } catch {
        await fixtures.stopAll()
        throw error
    }
    await fixtures.stopAll()
}
