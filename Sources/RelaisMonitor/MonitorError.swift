// What can go wrong between relais-monitor and the relay, and the exit status each gives, so a
// script can tell "the relay is down" from "my token is wrong" from "that consultation is over".

/// A failure the operator must see as one clear line, with a distinct exit status.
public enum MonitorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No token from `--token` or `RELAIS_OPERATOR_TOKEN`.
    case noToken
    /// The relay could not be reached (connection refused, timeout, name resolution).
    case unreachable(server: String, reason: String)
    /// 401 (`unauthorized`) or 403 (`forbidden`): the relay refused the operator token.
    case tokenRefused(status: Int, code: String, message: String)
    /// 404: the consultation, room or participant is not live (or never was).
    case notFound(code: String, message: String)
    /// Any other non-2xx answer.
    case http(status: Int, code: String, message: String)
    /// A 2xx answer whose body is not what the contract says.
    case badResponse(String)
    /// A value given on the command line that cannot be used (a bad `--server` URL, say).
    case invalidArgument(String)

    /// Exit statuses: documented in `relais-monitor --help` and relied on by scripts and tests.
    public enum ExitStatus {
        public static let success: Int32 = 0
        public static let failure: Int32 = 1
        public static let noToken: Int32 = 2
        public static let unreachable: Int32 = 3
        public static let tokenRefused: Int32 = 4
        public static let notFound: Int32 = 5
        /// swift-argument-parser's status for a command line it cannot parse (EX_USAGE).
        public static let usage: Int32 = 64
    }

    public var exitStatus: Int32 {
        switch self {
        case .noToken: ExitStatus.noToken
        case .unreachable: ExitStatus.unreachable
        case .tokenRefused: ExitStatus.tokenRefused
        case .notFound: ExitStatus.notFound
        case .http, .badResponse: ExitStatus.failure
        case .invalidArgument: ExitStatus.usage
        }
    }

    public var description: String {
        switch self {
        case .noToken:
            "no operator token: pass --token TOKEN or set RELAIS_OPERATOR_TOKEN (mint one with `relais-server token --operator --name NAME`)"
        case .unreachable(let server, let reason):
            "cannot reach the relay at \(server): \(reason)"
        case .tokenRefused(let status, let code, let message):
            "the relay refused the operator token (\(status == 403 ? "forbidden" : code.isEmpty ? "unauthorized" : code)): \(message)"
        case .notFound(_, let message):
            "not found: \(message)"
        case .http(let status, let code, let message):
            "the relay answered HTTP \(status)\(code.isEmpty ? "" : " (\(code))"): \(message)"
        case .badResponse(let detail):
            "unexpected answer from the relay: \(detail)"
        case .invalidArgument(let detail):
            detail
        }
    }
}
