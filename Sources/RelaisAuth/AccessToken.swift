public import Foundation
import JWTKit
public import RelaisSignaling

/// Who a token admits, to which room and as what (Signaling/PROTOCOL.md, "Tokens").
public struct AccessClaims: Sendable, Equatable {
    /// The user's stable identifier at the issuer (JWT `sub`).
    public var subject: String
    public var displayName: String
    public var role: Role
    public var room: String
    public var expires: Date

    public init(subject: String, displayName: String, role: Role, room: String, expires: Date) {
        self.subject = subject
        self.displayName = displayName
        self.role = role
        self.room = room
        self.expires = expires
    }
}

/// The JWT payload (RFC 7519 §4): registered claims plus Relais' `name`, `role`, `room`.
struct RelaisJWTPayload: JWTPayload {
    var sub: SubjectClaim
    var name: String
    var role: Role
    var room: String
    var exp: ExpirationClaim
    var iat: IssuedAtClaim?
    var iss: IssuerClaim?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        // Expiry is checked by the authority against its own clock, so tests can move time.
    }
}

/// Signs and checks access tokens with an HS256 shared secret.
///
/// HS256 because the hospital's identity service and the relay share a secret today; JWKS and
/// asymmetric keys come with the identity-provider integration.
public struct TokenAuthority: Sendable {
    let keys: JWTKeyCollection
    /// Tolerance for clocks of issuer and relay disagreeing.
    public var leeway: TimeInterval = 5

    /// HS256 needs a key at least as long as its output (RFC 7518 §3.2).
    public struct WeakSecret: Error, CustomStringConvertible {
        public var description: String { "the token secret must be at least 32 bytes (RFC 7518 §3.2)" }
    }

    public init(secret: String) async throws(WeakSecret) {
        guard secret.utf8.count >= 32 else { throw WeakSecret() }
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    }

    /// Mints a token (development tooling and tests; production tokens come from the platform).
    public func mint(_ claims: AccessClaims, issuedAt: Date = Date()) async throws -> String {
        let payload = RelaisJWTPayload(
            sub: SubjectClaim(value: claims.subject), name: claims.displayName, role: claims.role, room: claims.room,
            exp: ExpirationClaim(value: claims.expires), iat: IssuedAtClaim(value: issuedAt), iss: IssuerClaim(value: "relais"))
        return try await keys.sign(payload)
    }

    /// Checks signature and claims. `invalid_token` for anything malformed, forged or missing a
    /// claim; `token_expired` for a genuine token past its `exp`.
    public func verify(_ token: String, now: Date = Date()) async throws(SignalingError) -> AccessClaims {
        guard token.utf8.count <= 8192 else { throw SignalingError(.invalidToken, "token too long") }
        let payload: RelaisJWTPayload
        do {
            payload = try await keys.verify(token, as: RelaisJWTPayload.self)
        } catch {
            throw SignalingError(.invalidToken, "token rejected: \(Self.reason(error))")
        }
        guard payload.exp.value.addingTimeInterval(leeway) > now else {
            throw SignalingError(.tokenExpired, "token expired at \(payload.exp.value)")
        }
        guard !payload.sub.value.isEmpty, !payload.room.isEmpty else {
            throw SignalingError(.invalidToken, "token rejected: empty sub or room claim")
        }
        return AccessClaims(
            subject: payload.sub.value, displayName: payload.name, role: payload.role, room: payload.room,
            expires: payload.exp.value)
    }

    static func reason(_ error: any Error) -> String {
        if let jwt = error as? JWTError {
            if jwt.errorType == .signatureVerificationFailed { return "bad signature" }
            if let reason = jwt.reason { return reason }
            return "\(jwt.errorType)"
        }
        if error is DecodingError { return "claims missing or of the wrong type" }
        return "malformed"
    }
}

// MARK: - Operator tokens

/// Who an operator token admits: the admin API and `/metrics`, never a room.
public struct OperatorClaims: Sendable, Equatable {
    public var subject: String
    public var displayName: String
    public var expires: Date

    public init(subject: String, displayName: String, expires: Date) {
        self.subject = subject
        self.displayName = displayName
        self.expires = expires
    }
}

/// An operator token's payload: no `role` and no `room`, so it can never pass as a participant's
/// token, and a participant's token (no `scope`) never passes as an operator's.
struct OperatorJWTPayload: JWTPayload {
    static let adminScope = "relais:admin"

    var sub: SubjectClaim
    var name: String
    var scope: String
    var exp: ExpirationClaim
    var iat: IssuedAtClaim?
    var iss: IssuerClaim?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Why an operator token was refused: `unauthorized` (missing, malformed, forged, expired) is
/// HTTP 401; `forbidden` (a genuine token without the admin scope) is HTTP 403.
public struct OperatorTokenError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unauthorized, forbidden
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

extension TokenAuthority {
    /// Mints an operator token (development tooling and tests).
    public func mintOperator(_ claims: OperatorClaims, issuedAt: Date = Date()) async throws -> String {
        let payload = OperatorJWTPayload(
            sub: SubjectClaim(value: claims.subject), name: claims.displayName, scope: OperatorJWTPayload.adminScope,
            exp: ExpirationClaim(value: claims.expires), iat: IssuedAtClaim(value: issuedAt), iss: IssuerClaim(value: "relais"))
        return try await keys.sign(payload)
    }

    /// Checks an operator token. A well-signed participant token is `forbidden`, not `unauthorized`.
    public func verifyOperator(_ token: String, now: Date = Date()) async throws(OperatorTokenError) -> OperatorClaims {
        guard !token.isEmpty else { throw OperatorTokenError(.unauthorized, "missing bearer token") }
        guard token.utf8.count <= 8192 else { throw OperatorTokenError(.unauthorized, "token too long") }
        let payload: OperatorJWTPayload
        do {
            payload = try await keys.verify(token, as: OperatorJWTPayload.self)
        } catch {
            // A genuine participant token decodes as such: refuse it as the wrong kind of token.
            if (try? await keys.verify(token, as: RelaisJWTPayload.self)) != nil {
                throw OperatorTokenError(.forbidden, "a participant token does not give access to the admin API")
            }
            throw OperatorTokenError(.unauthorized, "token rejected: \(Self.reason(error))")
        }
        guard payload.scope == OperatorJWTPayload.adminScope else {
            throw OperatorTokenError(.forbidden, "the token lacks the \(OperatorJWTPayload.adminScope) scope")
        }
        guard payload.exp.value.addingTimeInterval(leeway) > now else {
            throw OperatorTokenError(.unauthorized, "token expired at \(payload.exp.value)")
        }
        guard !payload.sub.value.isEmpty else { throw OperatorTokenError(.unauthorized, "token rejected: empty sub claim") }
        return OperatorClaims(subject: payload.sub.value, displayName: payload.name, expires: payload.exp.value)
    }
}
