/// What a session needs to know about its connection and server; plain values, defaulted.
public struct POP3SessionConfiguration: Sendable {
    /// The greeting text after "+OK " (RFC 1939 §4). No version: nothing a scanner can use.
    public var greeting: String
    /// "<…@host>", unique per connection; APOP is offered only when set (RFC 1939 §7).
    public var apopTimestamp: String?
    /// The CRAM-MD5 challenge, "<…@host>" (RFC 2195).
    public var cramChallenge: String
    /// CRAM-MD5 offered (CAPA SASL, bare AUTH). Off by default: it needs the sealed secret that only mailboxes
    /// created with `--apop` keep, and clients such as curl pick it when offered and do not fall back.
    public var cramMD5Enabled: Bool
    /// SCRAM-SHA-256 offered (the password file keeps its keys; LDAP and PAM do not).
    public var scramEnabled: Bool
    /// The server's part of the SCRAM nonce, unique per connection: printable ASCII without ",".
    public var scramNonce: String
    /// The channel bindings this TLS connection can compute, for SCRAM-SHA-256-PLUS; empty without TLS.
    public var channelBindings: [SCRAMChannelBindingType: [UInt8]]
    /// OAUTHBEARER and XOAUTH2 offered (token keys are configured), where plaintext is allowed.
    public var oauthEnabled: Bool
    /// AUTH NTLM offered (legacy; it needs the sealed secret that only mailboxes created with `--apop` keep).
    public var ntlmEnabled: Bool
    /// The NTLM server challenge, 8 random bytes per connection.
    public var ntlmChallenge: [UInt8]
    /// The NTLM target name (NetBIOS domain and computer name in the target info).
    public var ntlmTarget: String
    /// LOGIN-DELAY's and EXPIRE's arguments in CAPA (RFC 2449 §6.5, §6.7): before login the cluster's ("900",
    /// "0 USER" when domains differ), after login the user's domain's (`applyDomainPolicy`).
    public var loginDelayCapability: String = "0"
    public var expireCapability: String = "NEVER"
    /// EXPIRE 0: every message retrieved with RETR is deleted at QUIT, as if marked by DELE.
    public var deleteRetrievedOnQuit: Bool = false
    /// STLS can be offered (a certificate is configured).
    public var tlsAvailable: Bool
    public var isTLS: Bool
    /// USER/PASS and AUTH PLAIN/LOGIN allowed without TLS (loopback peer or configuration; RFC 2595 §2.1).
    public var plaintextAllowedWithoutTLS: Bool
    /// CAPA IMPLEMENTATION, only when set (RFC 2449 §6.9).
    public var implementation: String?
    /// Bad commands before the session is closed: the one that reaches this number closes it.
    public var maxBadCommands: Int

    public init(
        greeting: String = "POP3 server ready",
        apopTimestamp: String? = nil,
        cramChallenge: String = "<0.0@localhost>",
        cramMD5Enabled: Bool = false,
        scramEnabled: Bool = false,
        scramNonce: String = "0",
        channelBindings: [SCRAMChannelBindingType: [UInt8]] = [:],
        oauthEnabled: Bool = false,
        ntlmEnabled: Bool = false,
        ntlmChallenge: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8],
        ntlmTarget: String = "POPLAR",
        tlsAvailable: Bool = false,
        isTLS: Bool = false,
        plaintextAllowedWithoutTLS: Bool = true,
        implementation: String? = nil,
        maxBadCommands: Int = POP3Limits.defaultMaxBadCommands
    ) {
        self.greeting = greeting
        self.apopTimestamp = apopTimestamp
        self.cramChallenge = cramChallenge
        self.cramMD5Enabled = cramMD5Enabled
        self.scramEnabled = scramEnabled
        self.scramNonce = scramNonce
        self.channelBindings = channelBindings
        self.oauthEnabled = oauthEnabled
        self.ntlmEnabled = ntlmEnabled
        self.ntlmChallenge = ntlmChallenge
        self.ntlmTarget = ntlmTarget
        self.tlsAvailable = tlsAvailable
        self.isTLS = isTLS
        self.plaintextAllowedWithoutTLS = plaintextAllowedWithoutTLS
        self.implementation = implementation
        self.maxBadCommands = maxBadCommands
    }
}
