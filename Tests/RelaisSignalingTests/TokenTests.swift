import Foundation
import Testing
import RelaisAuth
import RelaisSignaling

@Suite struct TokenTests {
    let secret = "development-secret-at-least-32-bytes!"
    let claims = AccessClaims(subject: "neuro-17", displayName: "Dr. Weber", role: .expert, room: "stroke-1",
                              expires: Date(timeIntervalSince1970: 2_000_000_000))

    @Test func mintedTokenVerifies() async throws {
        let authority = try await TokenAuthority(secret: secret)
        let token = try await authority.mint(claims)
        #expect(token.split(separator: ".").count == 3)
        let verified = try await authority.verify(token, now: Date(timeIntervalSince1970: 1_900_000_000))
        #expect(verified == claims)
    }

    @Test func expiredForgedAndMalformedTokensAreRefused() async throws {
        let authority = try await TokenAuthority(secret: secret)
        let forger = try await TokenAuthority(secret: String(repeating: "g", count: 32))
        let token = try await authority.mint(claims)
        await #expect(throws: SignalingError.self) { _ = try await authority.verify(token, now: Date(timeIntervalSince1970: 2_000_000_100)) }
        do {
            _ = try await authority.verify(token, now: Date(timeIntervalSince1970: 2_000_000_100))
        } catch {
            #expect(error.code == .tokenExpired)
        }
        for bad in [try await forger.mint(claims), "abc", "", "a.b.c", token + "x", String(token.dropLast(3))] {
            do {
                _ = try await authority.verify(bad, now: Date(timeIntervalSince1970: 1_900_000_000))
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.code == .invalidToken)
            }
        }
    }

    @Test func shortSecretsAreRefused() async {
        await #expect(throws: TokenAuthority.WeakSecret.self) { _ = try await TokenAuthority(secret: "short") }
    }

    @Test func tokenWithUnknownRoleIsInvalid() async throws {
        // A payload edited after signing (role "admin") must fail on its signature.
        let authority = try await TokenAuthority(secret: secret)
        let parts = try await authority.mint(claims).split(separator: ".")
        let payload = Data(#"{"sub":"x","name":"n","role":"admin","room":"stroke-1","exp":2000000000}"#.utf8)
            .base64EncodedString().replacingOccurrences(of: "=", with: "")
        do {
            _ = try await authority.verify("\(parts[0]).\(payload).\(parts[2])")
            Issue.record("accepted a tampered token")
        } catch {
            #expect(error.code == .invalidToken)
        }
    }
}
