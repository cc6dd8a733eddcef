import Synchronization

/// Caps on concurrent signaling WebSockets: per source address and in total.
///
/// An unjoined WebSocket costs the relay a channel, its buffers and three tasks before it has
/// shown a token; without a cap one host opening connections in a loop exhausts memory and file
/// descriptors for everyone. The per-address cap must still admit a whole hospital behind one
/// NAT (every cart, expert workstation and wall screen of the site shares one public address, and
/// a resume briefly holds two sockets for one participant), so it is generous; the total cap
/// bounds the worst case whatever the addresses. The table holds only addresses with a live
/// connection, so it is bounded by the total cap.
final class ConnectionAdmission: Sendable {
    /// Which cap refused a connection; the raw value is the metric label.
    enum Limit: String, Error, Sendable, Equatable {
        case perAddress = "per_address"
        case total
    }

    let perAddress: Int
    let total: Int
    private let state = Mutex<(total: Int, byAddress: [String: Int])>((0, [:]))
    /// Told the number of open connections after each change (the `relais_signaling_connections` gauge).
    private let changed: @Sendable (Int) -> Void

    init(perAddress: Int, total: Int, changed: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.perAddress = perAddress
        self.total = total
        self.changed = changed
    }

    /// A slot for a connection from `address`, or the cap that refuses it.
    func admit(_ address: String) -> Result<Ticket, Limit> {
        let refusal = state.withLock { state -> Limit? in
            guard state.total < total else { return .total }
            let current = state.byAddress[address, default: 0]
            guard current < perAddress else { return .perAddress }
            state.byAddress[address] = current + 1
            state.total += 1
            changed(state.total)
            return nil
        }
        if let refusal { return .failure(refusal) }
        return .success(Ticket(admission: self, address: address))
    }

    /// Open connections, in total and from `address`.
    var open: Int { state.withLock { $0.total } }
    func open(from address: String) -> Int { state.withLock { $0.byAddress[address, default: 0] } }

    fileprivate func release(_ address: String) {
        state.withLock { state in
            let remaining = state.byAddress[address, default: 1] - 1
            state.byAddress[address] = remaining > 0 ? remaining : nil
            state.total = max(state.total - 1, 0)
            changed(state.total)
        }
    }

    /// One admitted connection's slot; released once, explicitly or when the ticket goes away.
    final class Ticket: Sendable {
        private let admission: ConnectionAdmission
        let address: String
        private let released = Atomic<Bool>(false)

        fileprivate init(admission: ConnectionAdmission, address: String) {
            self.admission = admission
            self.address = address
        }

        func release() {
            guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
            admission.release(address)
        }

        deinit { release() }
    }
}
