// `watch`: a live view like `top`. The part that must never fail is giving the terminal back:
// the alternate screen is left and the cursor shown on exit, on an error, on Ctrl-C (SIGINT),
// on SIGTERM and on `q`.
import ArgumentParser
import Dispatch
import Foundation
import RelaisAdmin
import RelaisMonitor

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live view refreshed every second: the sessions table, or one consultation with ID.",
        discussion: """
            On a terminal the view is drawn on the alternate screen and the terminal is restored on \
            q, Ctrl-C (SIGINT) or SIGTERM (exit status 0). Not on a terminal, or with --json, every \
            refresh prints a plain frame (or one JSON line) without escape codes.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Consultation id (c-…) or room name; without it, every live consultation.") var id: String?
    @Option(help: "Seconds between refreshes.") var interval: Double = 1
    @Option(help: "Stop after this many refreshes (scripts and tests; default: until interrupted).") var count: Int?

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be between 0.1 and 3600 seconds") }
        if let count, count <= 0 { throw ValidationError("--count must be a positive number") }
    }

    func run() async throws {
        let client = try global.client()
        let interactive = !global.json && Terminal.isTerminal(1)
        let loop = Task { try await refreshLoop(client, interactive: interactive) }
        let signals = SignalWatch { loop.cancel() }
        var keyboard: RawKeyboard?
        if interactive {
            emit(Terminal.enter)
            // Armed only while the alternate screen is up: a second signal, or a first one while
            // the loop is stuck, restores the terminal from the handler itself and exits.
            signals.restoreOnForcedExit = true
            let raw = RawKeyboard()
            if raw.isActive {
                keyboard = raw
                signals.forcedExitCleanup = { raw.restore() }
                let thread = Thread {
                    while let byte = raw.readByte() {
                        if byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") {
                            loop.cancel()
                            return
                        }
                    }
                }
                thread.start()
            }
        }
        let result = await loop.result
        keyboard?.restore()
        if interactive { emit(Terminal.restore) }
        signals.stop()
        await client.shutdown()
        switch result {
        case .success:
            return
        case .failure(let error):
            if error is CancellationError { return }  // q, SIGINT, SIGTERM: a normal way out
            throw error
        }
    }

    private func refreshLoop(_ client: AdminClient, interactive: Bool) async throws {
        var previousList: SessionList?
        var previousSession: Session?
        var refreshes = 0
        var firstFetch = true
        while true {
            try Task.checkCancellation()
            let started = ContinuousClock.now
            let now = Date()
            var body: String
            var sessionCount: Int?
            do {
                if let id {
                    // The header counts every live consultation; the body is the one asked for.
                    async let list = client.sessions()
                    do {
                        let session = try await client.session(id)
                        body = Render.session(session, now: now, previous: previousSession)
                        previousSession = session
                        if global.json { try global.printJSON(session) }
                    } catch MonitorError.notFound(_, let message) {
                        // The consultation may not have started yet, or has just ended: keep watching.
                        body = "\(id): not live (\(message))\n"
                        previousSession = nil
                    }
                    sessionCount = try await list.sessions.count
                } else {
                    let list = try await client.sessions()
                    body = Render.sessions(list, now: now, previous: previousList)
                    previousList = list
                    sessionCount = list.sessions.count
                    if global.json { try global.printJSON(list) }
                }
            } catch let error as MonitorError {
                switch error {
                case .tokenRefused, .noToken, .invalidArgument:
                    throw error
                case .unreachable where firstFetch:
                    throw error
                default:
                    // The relay restarting or a hiccup: say so on the screen and try again.
                    body = "relais-monitor: \(error)\n"
                    if global.json { printError("relais-monitor: \(error)") }
                }
            }
            firstFetch = false
            if !global.json {
                let frame = Render.watchHeader(server: client.server, now: now, sessionCount: sessionCount, interval: interval) + "\n" + body
                if interactive {
                    let size = Terminal.size(1)
                    emit(Terminal.frame(frame, columns: size?.columns, rows: size?.rows))
                } else {
                    emit(frame + "\n")
                }
            }
            refreshes += 1
            if let count, refreshes >= count { return }
            let elapsed = ContinuousClock.now - started
            let period = Duration.milliseconds(Int64((interval * 1000).rounded()))
            if elapsed < period { try await Task.sleep(for: period - elapsed) }
        }
    }
}

/// SIGINT and SIGTERM as a cancellation of the watch loop, through DispatchSource (so no Swift
/// code runs in signal context). A second signal, or a first one the loop has not answered
/// within two seconds, restores the terminal and exits at once: Ctrl-C must always work.
final class SignalWatch: @unchecked Sendable {
    // Mutated on `queue` only (the handlers and `stop`), apart from `restoreOnForcedExit`, set
    // once before any signal can be delivered to the loop.
    private let queue = DispatchQueue(label: "relais-monitor.signals")
    private var sources: [any DispatchSourceSignal] = []
    private var received = 0
    var restoreOnForcedExit = false
    /// Runs before a forced exit (gives the keyboard its line discipline back).
    var forcedExitCleanup: (@Sendable () -> Void)?

    init(onSignal: @escaping @Sendable () -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)  // let the dispatch source see it instead of the default action
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [unowned self] in
                self.received += 1
                if self.received == 1 {
                    onSignal()
                    self.queue.asyncAfter(deadline: .now() + 2) { if self.received > 0 { self.forceExit(number) } }
                } else {
                    self.forceExit(number)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    private func forceExit(_ number: Int32) {
        forcedExitCleanup?()
        if restoreOnForcedExit { Terminal.write(Terminal.restore) }
        exit(128 + number)
    }

    func stop() {
        queue.sync {
            for source in sources { source.cancel() }
            sources.removeAll()
            received = -1_000  // a late asyncAfter does nothing
        }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
