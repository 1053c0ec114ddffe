/// Who may use the console: whoever presents the operator token
/// (`keys/console.token`), as `Authorization: Bearer TOKEN`, as the cookie
/// that a `?token=TOKEN` login sets (so that a browser keeps it), or, for a
/// login, in the query. Pure: what a request carries in, a decision out.
package struct OperatorAuth: Sendable {
    /// The cookie that carries the token after a login.
    package static let cookieName = "relay_console"

    /// What to do with a request.
    package enum Decision: Sendable, Equatable {
        /// Serve it.
        case allow
        /// Its query holds the right token: set the cookie and send the browser to the page without it.
        case login
        /// 401.
        case deny
    }

    private let token: [UInt8]

    /// The check against `token`.
    package init(token: String) {
        self.token = Array(token.utf8)
    }

    /// The decision for a request with these header, cookie and query values.
    package func decide(authorization: String?, cookie: String?, queryToken: String?) -> Decision {
        if let authorization, let presented = Self.bearer(authorization), matches(presented) { return .allow }
        if let cookie, matches(Substring(cookie)) { return .allow }
        if let queryToken, matches(Substring(queryToken)) { return .login }
        return .deny
    }

    /// The credentials of `Bearer CREDENTIALS` (scheme case-insensitive, RFC 9110 §11.1), or nil.
    static func bearer(_ header: String) -> Substring? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].drop(while: { $0 == " " })
    }

    /// Compares without stopping at the first difference, so the time taken says nothing of the token.
    private func matches(_ presented: Substring) -> Bool {
        let bytes = Array(presented.utf8)
        guard !token.isEmpty, bytes.count == token.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(bytes, token) { difference |= a ^ b }
        return difference == 0
    }
}
