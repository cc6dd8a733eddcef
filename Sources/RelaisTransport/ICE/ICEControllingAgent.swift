public import RelaisWire

/// Output of the controlling agent: a check to send, or a state change.
public enum ICEClientOutput: Equatable, Sendable {
    /// Send `bytes` from the local candidate at `localIndex` to `destination`.
    case transmit(bytes: [UInt8], localIndex: Int, destination: TransportAddress)
    /// A pair was nominated and accepted: media flows between these two addresses.
    case connected(localIndex: Int, remote: TransportAddress)
    /// Every pair failed before one succeeded.
    case failed
    /// The selected pair stopped answering consent checks (RFC 7675 §5.1).
    case consentLost
}

/// The full, controlling side of ICE (RFC 8445) for the headless client, reaching an ICE-lite relay.
///
/// It pairs its host candidates with the relay's, checks pairs in priority order paced by Ta,
/// retransmits on its own timers, nominates the first pair that succeeds (regular nomination: a
/// second check carrying USE-CANDIDATE), then keeps consent fresh every few seconds. Sans-IO: the
/// owner passes time and received datagrams in and sends what `poll` returns.
public struct ICEControllingAgent: Sendable {
    public struct Configuration: Sendable {
        /// Pacing between new checks (RFC 8445 §14.2 suggests 50 ms).
        public var pacing: Duration = .milliseconds(50)
        /// First retransmission timeout; doubles per attempt.
        public var initialRTO: Duration = .milliseconds(100)
        public var maxAttempts = 6
        /// Consent checks every `consentInterval` (RFC 7675: 4-6 s randomized; fixed here for determinism).
        public var consentInterval: Duration = .seconds(5)
        public var consentTimeout: Duration = .seconds(30)
        public init() {}
    }

    enum PairState: Equatable, Sendable { case waiting, inProgress, succeeded, failed }

    struct Pair: Sendable {
        var localIndex: Int
        var remote: TransportAddress
        var priority: UInt64
        var state: PairState = .waiting
        var transaction: STUNTransactionID?
        var attempts = 0
        var nextRetransmit: Instant?
        var nominating = false
    }

    public let local: ICECredentials
    public private(set) var remote: ICECredentials
    public let tieBreaker: UInt64
    public let configuration: Configuration
    public let localCandidates: [ICECandidate]

    private var pairs: [Pair] = []
    private var nextCheckTime: Instant?
    private var selected: Int?
    private var lastConsentResponse: Instant?
    private var nextConsentCheck: Instant?
    private var consentTransaction: STUNTransactionID?
    private var finished = false
    private var outputs: [ICEClientOutput] = []

    public init(
        local: ICECredentials, remote: ICECredentials, localCandidates: [ICECandidate],
        configuration: Configuration = Configuration(), tieBreaker: UInt64 = .random(in: 0...UInt64.max)
    ) {
        self.local = local
        self.remote = remote
        self.localCandidates = localCandidates
        self.configuration = configuration
        self.tieBreaker = tieBreaker
    }

    public var selectedPair: (localIndex: Int, remote: TransportAddress)? {
        selected.map { (pairs[$0].localIndex, pairs[$0].remote) }
    }

    /// Adds a remote candidate (from SDP or trickle); pairs it with each local candidate of the
    /// same address family.
    public mutating func addRemoteCandidate(_ candidate: ICECandidate, now: Instant) {
        guard !finished else { return }
        for (index, localCandidate) in localCandidates.enumerated()
        where localCandidate.address.ip.isIPv4 == candidate.address.ip.isIPv4 {
            guard !pairs.contains(where: { $0.localIndex == index && $0.remote == candidate.address }) else { continue }
            // RFC 8445 §6.1.2.3 pair priority with us controlling (G = local, D = remote).
            let g = UInt64(localCandidate.priority), d = UInt64(candidate.priority)
            let priority = (1 << 32) * min(g, d) + 2 * max(g, d) + (g > d ? 1 : 0)
            pairs.append(Pair(localIndex: index, remote: candidate.address, priority: priority))
        }
        pairs.sort { $0.priority > $1.priority }
        if selected == nil, nextCheckTime == nil { nextCheckTime = now }
    }

    /// The earliest time `poll` has something to do.
    public var nextDeadline: Instant? {
        var deadline = nextCheckTime
        for pair in pairs {
            if let t = pair.nextRetransmit { deadline = deadline.map { min($0, t) } ?? t }
        }
        if let t = nextConsentCheck { deadline = deadline.map { min($0, t) } ?? t }
        if selected != nil, let last = lastConsentResponse {
            let expiry = last + configuration.consentTimeout
            deadline = deadline.map { min($0, expiry) } ?? expiry
        }
        return deadline
    }

    /// Runs timers due at `now` and returns the next output, if any. Call until it returns nil.
    public mutating func poll(now: Instant) -> ICEClientOutput? {
        if outputs.isEmpty { runTimers(now: now) }
        return outputs.isEmpty ? nil : outputs.removeFirst()
    }

    /// Handles a STUN datagram received on local candidate `localIndex` from `source`.
    public mutating func handleSTUN(_ datagram: UnsafeRawBufferPointer, localIndex: Int, from source: TransportAddress, now: Instant) {
        guard let message = try? STUNMessageView(parsing: datagram) else { return }
        guard message.type.method == STUNMessageType.bindingMethod,
              message.type.messageClass == .successResponse || message.type.messageClass == .errorResponse
        else { return }
        if message.fingerprintOffset >= 0, !message.hasValidFingerprint { return }

        if let consentTransaction, message.transactionID == consentTransaction {
            self.consentTransaction = nil
            if message.type.messageClass == .successResponse, message.hasValidIntegrity(password: remote.password) {
                lastConsentResponse = now
            }
            return
        }
        guard let index = pairs.firstIndex(where: { $0.transaction == message.transactionID }) else { return }
        // RFC 8445 §7.2.5.2.1: the response must come from where the request went.
        guard pairs[index].remote == source, pairs[index].localIndex == localIndex else { return }
        pairs[index].transaction = nil
        pairs[index].nextRetransmit = nil
        guard message.type.messageClass == .successResponse, message.hasValidIntegrity(password: remote.password) else {
            pairs[index].state = .failed
            checkAllFailed()
            return
        }
        if pairs[index].nominating {
            guard selected == nil else { return }
            selected = index
            lastConsentResponse = now
            nextConsentCheck = now + configuration.consentInterval
            nextCheckTime = nil
            for i in pairs.indices where i != index { pairs[i].nextRetransmit = nil; pairs[i].transaction = nil }
            outputs.append(.connected(localIndex: pairs[index].localIndex, remote: pairs[index].remote))
        } else {
            pairs[index].state = .succeeded
            if selected == nil, !pairs.contains(where: { $0.nominating }) {
                // Regular nomination of the first valid pair: repeat the check with USE-CANDIDATE.
                pairs[index].nominating = true
                send(pairIndex: index, now: now)
            }
        }
    }

    /// New remote credentials after an ICE restart: checks start over.
    public mutating func restart(remote: ICECredentials, now: Instant) {
        self.remote = remote
        for i in pairs.indices { pairs[i] = Pair(localIndex: pairs[i].localIndex, remote: pairs[i].remote, priority: pairs[i].priority) }
        selected = nil
        finished = false
        consentTransaction = nil
        nextConsentCheck = nil
        nextCheckTime = now
    }

    // MARK: - Internals

    private mutating func runTimers(now: Instant) {
        guard !finished else { return }
        for i in pairs.indices {
            guard let t = pairs[i].nextRetransmit, t <= now else { continue }
            if pairs[i].attempts >= configuration.maxAttempts {
                pairs[i].state = .failed
                pairs[i].nextRetransmit = nil
                pairs[i].transaction = nil
                if pairs[i].nominating { pairs[i].nominating = false }
                checkAllFailed()
            } else {
                send(pairIndex: i, now: now, retransmit: true)
            }
        }
        if selected == nil, let t = nextCheckTime, t <= now {
            if let next = pairs.firstIndex(where: { $0.state == .waiting }) {
                pairs[next].state = .inProgress
                send(pairIndex: next, now: now)
                nextCheckTime = now + configuration.pacing
            } else {
                nextCheckTime = nil
            }
        }
        if let selected {
            if let last = lastConsentResponse, now >= last + configuration.consentTimeout {
                finished = true
                outputs.append(.consentLost)
                return
            }
            if let t = nextConsentCheck, t <= now {
                let transaction = STUNTransactionID.random()
                consentTransaction = transaction
                outputs.append(.transmit(
                    bytes: buildCheck(transaction: transaction, useCandidate: false, localIndex: pairs[selected].localIndex),
                    localIndex: pairs[selected].localIndex, destination: pairs[selected].remote))
                nextConsentCheck = now + configuration.consentInterval
            }
        }
    }

    private mutating func send(pairIndex i: Int, now: Instant, retransmit: Bool = false) {
        if !retransmit {
            pairs[i].attempts = 0
            pairs[i].transaction = STUNTransactionID.random()
        }
        pairs[i].attempts += 1
        let rto = configuration.initialRTO * (1 << min(pairs[i].attempts - 1, 10))
        pairs[i].nextRetransmit = now + rto
        let bytes = buildCheck(
            transaction: pairs[i].transaction!, useCandidate: pairs[i].nominating, localIndex: pairs[i].localIndex)
        outputs.append(.transmit(bytes: bytes, localIndex: pairs[i].localIndex, destination: pairs[i].remote))
    }

    private func buildCheck(transaction: STUNTransactionID, useCandidate: Bool, localIndex: Int) -> [UInt8] {
        let username = remote.ufrag + ":" + local.ufrag
        let priority = iceCandidatePriority(type: .peerReflexive, localPreference: UInt32(65535 - localIndex))
        let key = Array(remote.password.utf8)
        // 512 bytes hold any check: USERNAME is at most 513 bytes only for hostile SDPs, which then fail here.
        return (try? STUNMessageBuilder.build(type: .bindingRequest, transactionID: transaction) { b throws(BufferTooSmall) in
            try b.addUsername(username)
            try b.addPriority(priority)
            try b.addICEControlling(tieBreaker)
            if useCandidate { try b.addUseCandidate() }
            try b.addMessageIntegrity(key: key)
            try b.addFingerprint()
        }) ?? []
    }

    private mutating func checkAllFailed() {
        if selected == nil, !pairs.isEmpty, pairs.allSatisfy({ $0.state == .failed }) {
            finished = true
            outputs.append(.failed)
        }
    }
}
