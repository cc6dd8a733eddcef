@testable import RelaisTransport
import RelaisWire
import Testing

let relayCredentials = ICECredentials(ufrag: "relayUfr", password: "relayPassword0123456789ab")
let peerCredentials = ICECredentials(ufrag: "peerUfra", password: "peerPassword0123456789abcd")
let peerAddress = TransportAddress(ip: .loopbackV4, port: 50_000)
let relayAddress = TransportAddress(ip: .loopbackV4, port: 40_000)

func check(
    username: String = "relayUfr:peerUfra", password: String = relayCredentials.password,
    useCandidate: Bool = false, controlled: Bool = false, corruptFingerprint: Bool = false
) -> [UInt8] {
    var bytes = try! STUNMessageBuilder.build(type: .bindingRequest, transactionID: .random()) { b throws(BufferTooSmall) in
        try b.addUsername(username)
        try b.addPriority(0x6E00_01FF)
        if controlled { try b.addICEControlled(7) } else { try b.addICEControlling(7) }
        if useCandidate { try b.addUseCandidate() }
        try b.addMessageIntegrity(password: password)
        try b.addFingerprint()
    }
    if corruptFingerprint { bytes[bytes.count - 1] ^= 0xFF }
    return bytes
}

/// Runs one datagram through the agent and returns its outcome and the response bytes.
func deliver(_ bytes: [UInt8], to agent: inout ICELiteAgent, from source: TransportAddress = peerAddress, at now: Instant) -> (ICELiteOutcome, [UInt8]) {
    var scratch = [UInt8](repeating: 0, count: 1500)
    let outcome = bytes.withUnsafeBytes { raw in
        scratch.withUnsafeMutableBytes { agent.handleSTUN(raw, from: source, now: now, scratch: $0) }
    }
    switch outcome {
    case .respond(let n): return (outcome, Array(scratch.prefix(n)))
    case .refuse(_, let n?): return (outcome, Array(scratch.prefix(n)))
    default: return (outcome, [])
    }
}

@Suite struct ICELiteAgentTests {
    @Test func answersValidCheckWithAuthenticatedXorMappedAddress() throws {
        var agent = ICELiteAgent(local: relayCredentials, remoteUfrag: "peerUfra")
        let (outcome, response) = deliver(check(), to: &agent, at: .zero)
        guard case .respond = outcome else { Issue.record("expected a response, got \(outcome)"); return }
        try response.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(m.type == .bindingSuccess)
            #expect(m.xorMappedAddress == peerAddress)
            #expect(m.hasValidIntegrity(password: relayCredentials.password))
            #expect(m.hasValidFingerprint)
        }
        #expect(agent.isValidated(peerAddress))
        #expect(agent.selected == nil)  // not nominated yet
        #expect(agent.pollEvent() == nil)
    }

    @Test func useCandidateSelectsThePairOnce() {
        var agent = ICELiteAgent(local: relayCredentials, remoteUfrag: "peerUfra")
        _ = deliver(check(useCandidate: true), to: &agent, at: .zero)
        _ = deliver(check(useCandidate: true), to: &agent, at: .zero)
        #expect(agent.selected == peerAddress)
        #expect(agent.pollEvent() == .selected(peerAddress))
        #expect(agent.pollEvent() == nil)
        // The peer moves (new network): a nomination from the new address switches.
        let moved = TransportAddress(ip: .loopbackV4, port: 50_001)
        _ = deliver(check(useCandidate: true), to: &agent, from: moved, at: .zero)
        #expect(agent.pollEvent() == .selected(moved))
        #expect(agent.sendAddress == moved)
    }

    @Test(arguments: [
        (check(password: "wrong-password-000000000"), ICEDropReason.badIntegrity, 401),
        (check(username: "otherUfr:peerUfra"), .unknownUsername, 401),
        (check(username: "relayUfr:stranger"), .unknownUsername, 401),
        (check(username: "relayUfr"), .unknownUsername, 401),
        (check(controlled: true), .roleConflict, 487),
    ])
    func refusesBadChecksWithErrorAndNoValidation(bytes: [UInt8], reason: ICEDropReason, code: Int) throws {
        var agent = ICELiteAgent(local: relayCredentials, remoteUfrag: "peerUfra")
        let (outcome, response) = deliver(bytes, to: &agent, at: .zero)
        guard case .refuse(let got, _) = outcome else { Issue.record("expected refusal, got \(outcome)"); return }
        #expect(got == reason)
        try response.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(m.type == .bindingError)
            #expect(m.errorCode?.code == code)
            #expect(m.messageIntegrityOffset < 0)
        }
        #expect(!agent.isValidated(peerAddress))
        #expect(agent.sendAddress == nil)
    }

    @Test func badFingerprintAndGarbageAreDroppedSilently() {
        var agent = ICELiteAgent(local: relayCredentials, remoteUfrag: "peerUfra")
        #expect(deliver(check(corruptFingerprint: true), to: &agent, at: .zero).0 == .drop(.badFingerprint))
        #expect(deliver([0, 1, 0, 0], to: &agent, at: .zero).0 == .drop(.malformed))
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let garbage = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if case .respond = deliver(garbage, to: &agent, at: .zero).0 { Issue.record("answered garbage") }
        }
        #expect(agent.validated.isEmpty)
    }

    @Test func consentExpiresWithinTimeoutPlusOneSecondOnFakeClock() {
        var agent = ICELiteAgent(local: relayCredentials, remoteUfrag: "peerUfra", consentTimeout: .seconds(30))
        var now = Instant.zero
        _ = deliver(check(useCandidate: true), to: &agent, at: now)
        _ = agent.pollEvent()
        // Checks every 2.5 s keep consent for a minute.
        for _ in 0..<24 {
            now = now + .milliseconds(2500)
            agent.handleTimeout(now: now)
            _ = deliver(check(), to: &agent, at: now)
        }
        #expect(!agent.isClosed)
        let lastCheck = now
        // Then silence: step a fake clock by 100 ms and look for the expiry.
        var expiredAt: Instant?
        while expiredAt == nil, now < lastCheck + .seconds(60) {
            now = now + .milliseconds(100)
            if let deadline = agent.nextDeadline, deadline <= now { agent.handleTimeout(now: now) }
            if case .consentExpired = agent.pollEvent() { expiredAt = now }
        }
        let elapsed = try! #require(expiredAt).since(lastCheck)
        #expect(elapsed >= .seconds(30))
        #expect(elapsed <= .seconds(31))
        #expect(agent.isClosed)
        #expect(deliver(check(), to: &agent, at: now).0 == .drop(.closed))
    }

    @Test func transportNeverCheckedIsReapedAfterArming() {
        var agent = ICELiteAgent(local: relayCredentials, consentTimeout: .seconds(10))
        agent.armConsent(now: .zero)
        agent.handleTimeout(now: .zero + .seconds(10))
        #expect(agent.pollEvent() == .consentExpired(lastConsent: .zero))
    }
}

@Suite struct ICEPortRouterTests {
    @Test func routesSTUNByUfragAndMediaOnlyFromBoundAddresses() throws {
        var router = ICEPortRouter<Int>()
        router.register(ufrag: "relayUfr", for: 1)
        router.register(ufrag: "otherUfr", for: 2)
        let bytes = check()
        try bytes.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(router.transport(forSTUN: m, from: peerAddress) == 1)
        }
        #expect(router.transport(forAddress: peerAddress) == nil)  // no check passed yet
        router.bind(peerAddress, to: 1)
        #expect(router.transport(forAddress: peerAddress) == 1)
        router.remove(1)
        #expect(router.transport(forAddress: peerAddress) == nil)
        try bytes.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(router.transport(forSTUN: m, from: peerAddress) == nil)
        }
        #expect(router.transportCount == 1)
    }

    @Test func iceRestartReplacesTheUfrag() throws {
        var router = ICEPortRouter<Int>()
        router.register(ufrag: "relayUfr", for: 1)
        router.changeUfrag(of: 1, to: "newUfrag")
        try check().withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(router.transport(forSTUN: m, from: peerAddress) == nil)
        }
        try check(username: "newUfrag:peerUfra").withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(router.transport(forSTUN: m, from: peerAddress) == 1)
        }
    }
}

@Suite struct ICEControllingAgentTests {
    /// A controlling client and a lite relay exchange datagrams over a simulated loss-free network
    /// until the client reports connected; the relay must have selected the same address.
    @Test func clientReachesLiteRelayAndKeepsConsent() throws {
        let clientAddresses = [
            TransportAddress(ip: .v4(0xC0A8_0001), port: 1111),  // unreachable candidate
            TransportAddress(ip: .loopbackV4, port: 2222),
        ]
        let candidates = clientAddresses.enumerated().map { i, a in
            ICECandidate(foundation: "\(i)", priority: iceCandidatePriority(type: .host, localPreference: UInt32(65535 - i)), address: a, type: .host)
        }
        var client = ICEControllingAgent(local: peerCredentials, remote: relayCredentials, localCandidates: candidates)
        var relay = ICELiteAgent(local: relayCredentials, remoteUfrag: peerCredentials.ufrag)
        var now = Instant.zero
        client.addRemoteCandidate(ICECandidate(foundation: "r", priority: iceCandidatePriority(type: .host), address: relayAddress, type: .host), now: now)

        var connected: (Int, TransportAddress)?
        var consentChecksAnswered = 0
        for _ in 0..<4_000 {  // 10 ms steps: 40 s of simulated time
            while let output = client.poll(now: now) {
                switch output {
                case .transmit(let bytes, let localIndex, let destination):
                    #expect(destination == relayAddress)
                    guard localIndex == 1 else { continue }  // the first candidate has no route
                    let (outcome, response) = deliver(bytes, to: &relay, from: clientAddresses[1], at: now)
                    if case .respond = outcome {
                        if connected != nil { consentChecksAnswered += 1 }
                        response.withUnsafeBytes { client.handleSTUN($0, localIndex: 1, from: relayAddress, now: now) }
                    }
                case .connected(let localIndex, let remote):
                    connected = (localIndex, remote)
                case .failed, .consentLost:
                    Issue.record("unexpected \(output)")
                }
            }
            now = now + .milliseconds(10)
        }
        let (localIndex, remote) = try #require(connected)
        #expect(localIndex == 1)
        #expect(remote == relayAddress)
        #expect(relay.selected == clientAddresses[1])
        #expect(consentChecksAnswered >= 6)  // one every 5 s over ~40 s
        #expect(!relay.isClosed)
    }

    @Test func clientReportsFailureWhenNothingAnswers() {
        let candidates = [ICECandidate(foundation: "0", priority: iceCandidatePriority(type: .host), address: peerAddress, type: .host)]
        var client = ICEControllingAgent(local: peerCredentials, remote: relayCredentials, localCandidates: candidates)
        var now = Instant.zero
        client.addRemoteCandidate(ICECandidate(foundation: "r", priority: 1, address: relayAddress, type: .host), now: now)
        var failed = false
        for _ in 0..<1_000 where !failed {
            while let output = client.poll(now: now) { if output == .failed { failed = true } }
            now = now + .milliseconds(10)
        }
        #expect(failed)
    }
}
