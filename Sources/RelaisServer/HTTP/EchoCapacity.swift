import Synchronization

/// The cap on concurrent echo tests (`POST /v1/echo`).
///
/// Each echo test is a transport on a media loop that sends back everything it receives, so it
/// costs as much as a publisher and a subscriber together; a flood of offers must not crowd out
/// the consultations on the same loops. A slot is taken before the offer is negotiated and held
/// by the echo session for as long as its transport lives (until the peer closes DTLS or ICE
/// consent expires, RFC 7675), so the count is exact whatever ends the test.
final class EchoCapacity: Sendable {
    let limit: Int
    private let live = Mutex<Int>(0)
    /// Told the number of live tests after each change (the `relais_echo_sessions` gauge).
    private let changed: @Sendable (Int) -> Void

    init(limit: Int, changed: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.limit = limit
        self.changed = changed
    }

    /// A slot, or nil when `limit` tests already run.
    func reserve() -> Lease? {
        let taken = live.withLock { live -> Bool in
            guard live < limit else { return false }
            live += 1
            changed(live)
            return true
        }
        return taken ? Lease(capacity: self) : nil
    }

    var inUse: Int { live.withLock { $0 } }

    fileprivate func release() {
        live.withLock { live in
            live = max(live - 1, 0)
            changed(live)
        }
    }

    /// One echo test's slot, released when the lease goes away (with the echo session that holds
    /// it, or at once when the offer is refused).
    final class Lease: Sendable {
        private let capacity: EchoCapacity

        fileprivate init(capacity: EchoCapacity) {
            self.capacity = capacity
        }

        deinit { capacity.release() }
    }
}
