import Foundation
import NIOCore
import ServerSupport

/// When plaintext credentials (USER/PASS, AUTH PLAIN, AUTH LOGIN) are accepted on a connection that is not TLS.
/// RFC 2595 §2.1 recommends refusing them; loopback peers are accepted by default so a local tool works.
public enum PlaintextPolicy: String, Sendable, CaseIterable {
    /// Only from 127.0.0.0/8 and ::1 (default).
    case loopback
    /// From anywhere (a trusted network behind a TLS-terminating proxy).
    case always
    /// Never without TLS, loopback included.
    case tlsOnly = "tls-only"
}

/// Everything a POP3 node is told. Plain `Sendable` values with defaults; the executable fills it from the
/// command line, the environment and a configuration file (docs/configuration.md lists the keys).
public struct NodeConfiguration: Sendable {
    /// Where POP3 (with STLS) is served. `port` 0 picks a free port (tests).
    public var listen: [SocketAddress]
    /// Where POP3 over implicit TLS (the POP3S role, port 995) is served.
    public var tlsListen: [SocketAddress]
    /// PEM files of the certificate chain and its key; STLS and the TLS listener need both.
    public var certificatePath: String?
    public var privateKeyPath: String?
    /// The protocol versions and TLS 1.2 suites offered (default: TLS 1.3, and 1.2 with ECDHE and AEAD only).
    public var tlsPolicy: TLSPolicy = TLSPolicy()
    /// This node's name in owner records and `[IN-USE]` replies.
    public var nodeID: String
    /// Text of the greeting after `+OK `: no version by default (the seed's advice).
    public var greeting: String
    /// CAPA IMPLEMENTATION, only when set.
    public var implementation: String?
    /// RFC 1939 §3 autologout after login: at least 10 minutes; the Internet Exchange FAQ used 30.
    public var idleTimeout: TimeAmount
    /// Autologout before login (shorter: an unauthenticated connection costs a slot).
    public var authorizationIdleTimeout: TimeAmount
    /// The whole time a connection may take from its first byte to a successful login, however busy it keeps
    /// itself (a NOOP a minute does not extend it); nil: no such limit.
    public var loginTimeout: TimeAmount?
    /// The seed's socketmax: sessions served at once.
    public var maxConnections: Int
    /// The seed's socketbacklog: connections held (no greeting yet) once `maxConnections` are served;
    /// beyond `maxConnections + backlog` a connection is answered `-ERR [SYS/TEMP]` and closed.
    public var backlog: Int
    /// Connections from one client address (the real one behind a PROXY header) open at once; 0: no limit. Loopback
    /// clients are not counted.
    public var maxConnectionsPerAddress: Int
    public var maxBadCommands: Int
    public var plaintext: PlaintextPolicy
    /// Offer AUTH CRAM-MD5 (only mailboxes created with `--apop` can use it).
    public var cramMD5: Bool
    /// Offer AUTH SCRAM-SHA-256, and SCRAM-SHA-256-PLUS over TLS (password file only; RFC 5802, RFC 7677).
    public var scram: Bool = true
    /// Offer AUTH NTLM (legacy, NTLMv2 only; mailboxes created with `--apop` only).
    public var ntlm: Bool = false
    /// Append one line per session to the mailbox's access journal (`poplar mailbox journal`).
    public var accessJournal: Bool = true
    /// The account directory logins are checked against (password file, LDAP, PAM) and its time limit.
    public var auth: AuthConfiguration = AuthConfiguration()
    /// Delay before any failed login is answered, the same for a wrong password and an unknown user.
    public var authFailureDelay: TimeAmount
    /// The cluster-wide auth penalty's longest delay in seconds (`AuthPenalty`; it doubles from the failure
    /// delay up to this); 0 turns the penalty off.
    public var authPenaltyMaximum: Double = 15
    /// Client networks the penalty does not count (loopback by default, like the per-address connection limit).
    public var authPenaltyExempt: TrustedNetworks = .loopback
    /// How long a graceful shutdown lets sessions finish before closing them.
    public var drainTime: TimeAmount
    /// How long a successful login is remembered, so a poller does not pay the slow hash every time.
    public var loginCacheTTL: TimeAmount
    public var loginCacheSize: Int
    /// Bytes read from the store per chunk when streaming RETR/TOP.
    public var retrieveChunkSize: Int
    /// Load balancers: connections from these networks must begin with a PROXY v1/v2 header, whose client address
    /// is then used for logs and the plaintext policy; from anywhere else a PROXY header is refused.
    public var proxyTrusted: TrustedNetworks
    /// HTTP liveness and readiness (`/health/live`, `/health/ready`) for load balancers; none by default.
    public var httpListen: [SocketAddress]
    /// Who may reach the HTTP listener (the load balancer's checks, Prometheus): loopback by default.
    public var httpAllowed: TrustedNetworks = .loopback
    /// How often the node publishes itself in `.poplar/nodes/` and reads its control folder (drain, kick).
    public var registryInterval: TimeAmount

    public static let minimumIdleTimeout: TimeAmount = .seconds(1)
    /// Dovecot's login processes allow 3 minutes before a login (`CLIENT_LOGIN_TIMEOUT_MSECS`); so does Poplar.
    public static let defaultLoginTimeout: TimeAmount = .minutes(3)

    public init(
        listen: [SocketAddress] = [],
        tlsListen: [SocketAddress] = [],
        certificatePath: String? = nil,
        privateKeyPath: String? = nil,
        nodeID: String = NodeConfiguration.defaultNodeID(),
        greeting: String = "POP3 server ready",
        implementation: String? = nil,
        idleTimeout: TimeAmount = .minutes(10),
        authorizationIdleTimeout: TimeAmount = .seconds(60),
        loginTimeout: TimeAmount? = NodeConfiguration.defaultLoginTimeout,
        maxConnections: Int = 10_000,
        backlog: Int = 256,
        maxConnectionsPerAddress: Int = 0,
        maxBadCommands: Int = 10,
        plaintext: PlaintextPolicy = .loopback,
        cramMD5: Bool = false,
        authFailureDelay: TimeAmount = .seconds(2),
        drainTime: TimeAmount = .seconds(30),
        loginCacheTTL: TimeAmount = .minutes(15),
        loginCacheSize: Int = 100_000,
        retrieveChunkSize: Int = 64 * 1024,
        proxyTrusted: TrustedNetworks = TrustedNetworks(),
        httpListen: [SocketAddress] = [],
        registryInterval: TimeAmount = .seconds(2)
    ) {
        self.listen = listen
        self.tlsListen = tlsListen
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.nodeID = nodeID
        self.greeting = greeting
        self.implementation = implementation
        self.idleTimeout = idleTimeout
        self.authorizationIdleTimeout = authorizationIdleTimeout
        self.loginTimeout = loginTimeout
        self.maxConnections = maxConnections
        self.backlog = backlog
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.maxBadCommands = maxBadCommands
        self.plaintext = plaintext
        self.cramMD5 = cramMD5
        self.authFailureDelay = authFailureDelay
        self.drainTime = drainTime
        self.loginCacheTTL = loginCacheTTL
        self.loginCacheSize = loginCacheSize
        self.retrieveChunkSize = retrieveChunkSize
        self.proxyTrusted = proxyTrusted
        self.httpListen = httpListen
        self.registryInterval = registryInterval
    }

    /// The host name, lowercased and cut to the characters a lock name may carry.
    public static func defaultNodeID() -> String {
        let host = ProcessInfo.processInfo.hostName.lowercased()
        let allowed = host.unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        let id = String(String.UnicodeScalarView(allowed.prefix(32)))
        return id.isEmpty ? "node" : id
    }
}
