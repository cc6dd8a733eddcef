import Foundation
@testable import RelaisWire
import Testing

/// SDP captured from independent WebRTC stacks (see Fixtures/SDP/SOURCES.md): each parses,
/// re-serializes byte for byte, and exposes what the relay needs from it.
@Suite struct SDPFixtureTests {
    static func fixtures() throws -> [(name: String, text: String)] {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent("SDP")
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".sdp") }.sorted()
        return try names.map { ($0, try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8)) }
    }

    @Test func fixturesComeFromAtLeastThreeIndependentStacks() throws {
        let stacks = Set(try Self.fixtures().map { $0.name.split(separator: "-")[0] })
        #expect(stacks.count >= 3, "stacks: \(stacks.sorted())")
    }

    @Test func everyFixtureRoundTripsAndHasWhatTheRelayNeeds() throws {
        let fixtures = try Self.fixtures()
        #expect(!fixtures.isEmpty)
        for (name, text) in fixtures {
            let sdp = try SessionDescription(parsing: text)
            #expect(sdp.serialize() == text, "\(name) does not round-trip")
            #expect(!sdp.media.isEmpty, "\(name)")
            for media in sdp.media where media.port != 0 || media.hasAttribute("bundle-only") {
                #expect(media.mid != nil, "\(name): section without mid")
                #expect(sdp.iceUfrag(for: media) != nil && sdp.icePassword(for: media) != nil, "\(name): no ICE credentials")
                let fingerprint = try sdp.fingerprint(for: media)
                #expect(fingerprint?.algorithm == "sha-256" && fingerprint?.bytes.count == 32, "\(name): fingerprint")
                #expect(try sdp.setup(for: media) != nil, "\(name): no setup")
                let codecs = try media.codecs()
                switch media.kind {
                case "audio":
                    let opus = codecs.first { $0.name.lowercased() == "opus" }
                    #expect(opus?.rtpMap.clockRate == 48_000, "\(name): Opus at 48 kHz")
                case "video":
                    let vp8 = codecs.first { $0.name.uppercased() == "VP8" }
                    #expect(vp8?.rtpMap.clockRate == 90_000, "\(name): VP8 at 90 kHz")
                    #expect(vp8?.feedback.contains { $0.type == "nack" } == true, "\(name): VP8 without NACK")
                default:
                    break
                }
                for ext in try media.extensionMaps() { #expect((1...255).contains(ext.id), "\(name): extmap id") }
                _ = try media.candidates()
                _ = try media.ssrcGroups()
                _ = try media.rids()
                _ = try media.simulcast()
            }
        }
    }

    @Test(arguments: ["chromium-simulcast-offer.sdp", "firefox-simulcast-offer.sdp"])
    func simulcastOffersHaveThreeSendRids(file: String) throws {
        let text = try #require(try Self.fixtures().first { $0.name == file }).text
        let video = try #require(try SessionDescription(parsing: text).media.first { $0.kind == "video" })
        let rids = try video.rids()
        #expect(rids.map(\.id) == ["q", "h", "f"])
        #expect(rids.allSatisfy { $0.direction == "send" })
        #expect(try video.simulcast()?.send.flatMap { $0.map(\.rid) } == ["q", "h", "f"])
    }
}
