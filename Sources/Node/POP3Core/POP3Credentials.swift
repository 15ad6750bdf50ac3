/// What the handler must verify; the state machine never judges a password. Never logged.
public enum POP3Credentials: Sendable, Equatable {
    /// USER/PASS (RFC 1939 §7), AUTH PLAIN (RFC 4616), AUTH LOGIN.
    case password(user: String, password: String)
    /// RFC 1939 §7: digest = lowercase hex MD5(timestamp + secret).
    case apop(user: String, digest: String, timestamp: String)
    /// RFC 2195: digest = lowercase hex HMAC-MD5(secret, challenge).
    case cramMD5(user: String, digest: String, challenge: String)
    /// RFC 5802: the machine checked the proof against the keys the handler gave it; `proofValid` false is a wrong
    /// password, answered like one.
    case scram(user: String, proofValid: Bool)
    /// RFC 7628 OAUTHBEARER or XOAUTH2: a bearer token to verify; `user` is the identity the client named, if any.
    case bearer(user: String?, token: String)
    /// [MS-NLMP] §3.3.2: an NTLMv2 response (NTProofStr and the client's blob) to `challenge`.
    case ntlm(user: String, domain: String, challenge: [UInt8], response: [UInt8])
}
