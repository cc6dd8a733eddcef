@testable import RelaisWire
import TestSupport
import Testing

/// RFC 5769 test vectors, byte for byte: parsing verifies integrity and fingerprint, and building
/// the same message with the same inputs reproduces every byte.
@Suite struct STUNVectorTests {
    static let password = "VOkJxbRl1RmTxUk/WvJxBt"
    static let transactionID = STUNTransactionID(high: 0xB7E7_A701, middle: 0xBC34_D686, low: 0xFA87_DFAE)

    // RFC 5769 §2.1 Sample Request
    static let request = hex("""
        0001 0058                      // Binding request, length 88
        2112a442                       // magic cookie
        b7e7a701 bc34d686 fa87dfae     // transaction id
        8022 0010                      // SOFTWARE, 16 bytes
        5354554e 20746573 7420636c 69656e74  // "STUN test client"
        0024 0004 6e0001ff             // PRIORITY 0x6e0001ff
        8029 0008 932ff9b1 51263b36    // ICE-CONTROLLED tie breaker
        0006 0009 6576746a 3a683676 59202020 // USERNAME "evtj:h6vY" + 3 bytes padding (spaces)
        0008 0014                      // MESSAGE-INTEGRITY
        9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
        8028 0004 e57a3bcf             // FINGERPRINT
        """)

    // RFC 5769 §2.2 Sample IPv4 Response
    static let ipv4Response = hex("""
        0101 003c                      // Binding success, length 60
        2112a442 b7e7a701 bc34d686 fa87dfae
        8022 000b 74657374 20766563 746f7220 // SOFTWARE "test vector" + 1 space
        0020 0008 0001 a147 e112a643   // XOR-MAPPED-ADDRESS family 1, port^0x2112, ip^cookie
        0008 0014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
        8028 0004 c07d4c96
        """)

    // RFC 5769 §2.3 Sample IPv6 Response
    static let ipv6Response = hex("""
        0101 0048
        2112a442 b7e7a701 bc34d686 fa87dfae
        8022 000b 74657374 20766563 746f7220
        0020 0014 0002 a147            // XOR-MAPPED-ADDRESS family 2
        0113a9fa a5d3f179 bc25f4b5 bed2b9d9
        0008 0014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
        8028 0004 c8fb0b4c
        """)

    @Test func sampleRequestParsesAndVerifies() throws {
        try Self.request.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(m.type == .bindingRequest)
            #expect(m.transactionID == Self.transactionID)
            #expect(m.usernameString == "evtj:h6vY")
            #expect(m.priority == 0x6E00_01FF)
            #expect(m.iceControlled == 0x932F_F9B1_5126_3B36)
            #expect(m.iceControlling == nil)
            #expect(!m.useCandidate)
            #expect(m.hasValidFingerprint)
            #expect(m.hasValidIntegrity(password: Self.password))
            #expect(!m.hasValidIntegrity(password: Self.password + "x"))
        }
    }

    @Test func sampleRequestIsRebuiltByteForByte() throws {
        let built = try STUNMessageBuilder.build(type: .bindingRequest, transactionID: Self.transactionID) { b throws(BufferTooSmall) in
            b.paddingByte = 0x20
            try b.addString(STUNAttributeType.software, "STUN test client")
            try b.addPriority(0x6E00_01FF)
            try b.addICEControlled(0x932F_F9B1_5126_3B36)
            try b.addUsername("evtj:h6vY")
            try b.addMessageIntegrity(password: Self.password)
            try b.addFingerprint()
        }
        #expect(hexString(built) == hexString(Self.request))
    }

    @Test(arguments: [
        (ipv4Response, TransportAddress(ip: IPAddress("192.0.2.1")!, port: 32853)),
        (ipv6Response, TransportAddress(ip: IPAddress("2001:db8:1234:5678:11:2233:4455:6677")!, port: 32853)),
    ])
    func sampleResponsesParseVerifyAndRebuild(vector: [UInt8], address: TransportAddress) throws {
        try vector.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(m.type == .bindingSuccess)
            #expect(m.xorMappedAddress == address)
            #expect(m.hasValidFingerprint)
            #expect(m.hasValidIntegrity(password: Self.password))
        }
        let built = try STUNMessageBuilder.build(type: .bindingSuccess, transactionID: Self.transactionID) { b throws(BufferTooSmall) in
            b.paddingByte = 0x20
            try b.addString(STUNAttributeType.software, "test vector")
            try b.addXorMappedAddress(address)
            try b.addMessageIntegrity(password: Self.password)
            try b.addFingerprint()
        }
        #expect(hexString(built) == hexString(vector))
    }
}

@Suite struct STUNBehaviourTests {
    @Test func messageTypeEncodingInterleavesMethodAndClass() {
        #expect(STUNMessageType.bindingRequest.rawValue == 0x0001)
        #expect(STUNMessageType.bindingSuccess.rawValue == 0x0101)
        #expect(STUNMessageType.bindingError.rawValue == 0x0111)
        #expect(STUNMessageType.bindingIndication.rawValue == 0x0011)
        for raw in stride(from: UInt16(0), to: 0x3FFF, by: 7) {
            #expect(STUNMessageType(rawValue: raw).rawValue == raw)
        }
    }

    @Test func iceCheckRoundTripsWithAllICEAttributes() throws {
        let id = STUNTransactionID.random()
        let bytes = try STUNMessageBuilder.build(type: .bindingRequest, transactionID: id) { b throws(BufferTooSmall) in
            try b.addUsername("relayufrag:peerufrag")
            try b.addPriority(1_853_824_767)
            try b.addICEControlling(42)
            try b.addUseCandidate()
            try b.addMessageIntegrity(password: "relaypassword0123456789")
            try b.addFingerprint()
        }
        try bytes.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(m.transactionID == id)
            #expect(m.usernameString == "relayufrag:peerufrag")
            #expect(m.priority == 1_853_824_767)
            #expect(m.iceControlling == 42)
            #expect(m.useCandidate)
            #expect(m.hasValidIntegrity(password: "relaypassword0123456789"))
            #expect(m.hasValidFingerprint)
        }
    }

    @Test func errorResponseCarriesCodeAndReason() throws {
        let bytes = try STUNMessageBuilder.build(type: .bindingError, transactionID: .random()) { b throws(BufferTooSmall) in
            try b.addErrorCode(401, reason: "Unauthorized")
            try b.addFingerprint()
        }
        try bytes.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(m.type == .bindingError)
            #expect(m.errorCode?.code == 401)
            #expect(m.errorCode?.reason == "Unauthorized")
        }
    }

    @Test func flippedByteBreaksIntegrityAndFingerprint() throws {
        for index in [2 + 20, 30, 40, 60] {  // inside attributes covered by both
            var bytes = STUNVectorTests.request
            bytes[index] ^= 0x01
            bytes.withUnsafeBytes { raw in
                guard let m = try? STUNMessageView(parsing: raw) else { return }  // may no longer parse: fine
                #expect(!m.hasValidFingerprint)
                #expect(!m.hasValidIntegrity(password: STUNVectorTests.password))
            }
        }
    }

    @Test func unknownComprehensionRequiredAttributeIsReported() throws {
        let bytes = try STUNMessageBuilder.build(type: .bindingRequest, transactionID: .random()) { b throws(BufferTooSmall) in
            try b.addAttribute(0x7777, value: [1, 2, 3])
            try b.addAttribute(0xC001, value: [9])  // comprehension-optional: ignored
        }
        try bytes.withUnsafeBytes { raw in
            let m = try STUNMessageView(parsing: raw)
            #expect(m.unknownRequiredAttribute == 0x7777)
        }
    }
}

@Suite struct STUNMalformedInputTests {
    func parse(_ bytes: [UInt8]) -> STUNError? {
        bytes.withUnsafeBytes { raw in
            do throws(STUNError) {
                _ = try STUNMessageView(parsing: raw)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test func truncatedHeader() {
        #expect(parse(Array(STUNVectorTests.request.prefix(19))) == .truncated(needed: 20, have: 19))
    }

    @Test func topBitsSet() {
        var bytes = STUNVectorTests.request
        bytes[0] = 0x80
        #expect(parse(bytes) == .notSTUN)
    }

    @Test func wrongCookie() {
        var bytes = STUNVectorTests.request
        bytes[4] = 0x22
        #expect(parse(bytes) == .badMagicCookie(0x2212_A442))
    }

    @Test func lengthDisagreesWithDatagram() {
        #expect(parse(Array(STUNVectorTests.request.dropLast(4))) == .badLength(declared: 88, datagram: 104))
        var bytes = STUNVectorTests.request
        bytes[3] = 0x59  // not a multiple of 4
        #expect(parse(bytes) == .badLength(declared: 89, datagram: 108))
    }

    @Test func attributeLengthPastEnd() {
        // header (length 8) + USERNAME claiming 200 bytes
        let bytes = hex("0001 0008 2112a442 000000000000000000000000 0006 00c8 61626364")
        #expect(parse(bytes) == .attributeOverrun(type: 0x0006, offset: 20))
    }

    @Test func wrongFixedAttributeLengths() {
        let priority3 = hex("0001 0008 2112a442 000000000000000000000000 0024 0003 01020300")
        #expect(parse(priority3) == .badAttributeLength(type: 0x0024, length: 3))
        let integrity4 = hex("0001 0008 2112a442 000000000000000000000000 0008 0004 01020304")
        #expect(parse(integrity4) == .badAttributeLength(type: 0x0008, length: 4))
    }

    @Test func attributeAfterFingerprint() {
        // length 12: FINGERPRINT (8 bytes) then USE-CANDIDATE (4 bytes)
        let bytes = hex("0001 000c 2112a442 000000000000000000000000 8028 0004 00000000 0025 0000")
        #expect(parse(bytes) == .attributeAfterIntegrity(type: 0x0025))
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(seed: 5769)
        for _ in 0..<20_000 {
            var bytes = rng.bytes(Int.random(in: 0...120, using: &rng))
            if bytes.count >= 8, Bool.random(using: &rng) {
                // Make it look like STUN so the attribute walk is exercised.
                bytes[0] &= 0x3F
                bytes[4] = 0x21; bytes[5] = 0x12; bytes[6] = 0xA4; bytes[7] = 0x42
                let body = (bytes.count - 20) & ~3
                if bytes.count >= 20 { bytes = Array(bytes.prefix(20 + body)); bytes[2] = 0; bytes[3] = UInt8(body) }
            }
            bytes.withUnsafeBytes { raw in
                if let m = try? STUNMessageView(parsing: raw) {
                    _ = m.hasValidFingerprint
                    _ = m.hasValidIntegrity(password: "x")
                    _ = m.xorMappedAddress
                    _ = m.errorCode
                    _ = m.usernameString
                }
            }
        }
    }
}
