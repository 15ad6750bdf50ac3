import Foundation
import NIOCore
import SMTPCore
import ServerSupport

/// Everything a coordinator is told (docs/configuration.md lists the keys).
public struct CoordinatorConfiguration: Sendable {
    /// LMTP listeners (RFC 2033; the MTA's delivery transport). Default port 24.
    public var lmtpListen: [SocketAddress]
    /// Inbound SMTP listeners (RFC 5321). Default port 25 when asked for.
    public var smtpListen: [SocketAddress]
    /// Postfix socketmap lookups (virtual_mailbox_domains / virtual_mailbox_maps) from the metabase.
    public var socketmapListen: [SocketAddress]
    public var certificatePath: String?
    public var privateKeyPath: String?
    /// The protocol versions and TLS 1.2 suites offered (default: TLS 1.3, and 1.2 with ECDHE and AEAD only).
    public var tlsPolicy: TLSPolicy = TLSPolicy()
    /// The name in greetings and Received: headers.
    public var hostname: String
    public var maxMessageSize: Int
    public var maxRecipients: Int
    /// A bare LF or CR in DATA is refused (`550 5.5.2`, Postfix's `smtpd_forbid_bare_newline = reject`) unless this is
    /// on: then each is written as CRLF and the message accepted. Only CRLF.CRLF ends DATA either way.
    public var normalizeBareLineEndings = false
    /// An idle LMTP/SMTP client is disconnected after this (RFC 5321 §4.5.3.2.7: 5 minutes at least).
    public var idleTimeout: TimeAmount
    /// How often `.poplar/pickup/` is scanned; zero turns the pickup folder off.
    public var pickupInterval: TimeAmount
    /// Where DATA is spooled while it arrives (a local directory: not the shared store).
    public var spoolDirectory: String
    /// This coordinator's name in the coordinators' lease (`.poplar/lease-coordinator`): the one holding it delivers,
    /// the others stand by and answer 421/451 until its lease runs out.
    public var coordinatorID: String
    /// HTTP health and metrics (`/health/live`, `/health/ready`, `/health/active`, `/metrics`); none by default.
    public var httpListen: [SocketAddress]
    /// Who may reach the listeners only the MTA and the operators need (LMTP, socketmap, HTTP): loopback by default.
    /// Inbound SMTP is for the Internet and is not limited here.
    public var mtaNetworks: TrustedNetworks = .loopback
    /// The account directory (`--auth ldap|pam`) asked about recipients of external mailboxes, and, with
    /// `autocreate`, about recipients that have no mailbox yet; nil: the store's mailboxes alone.
    public var recipientDirectory: (any RecipientDirectory)?
    public var autocreate = false

    public init(
        lmtpListen: [SocketAddress] = [],
        smtpListen: [SocketAddress] = [],
        socketmapListen: [SocketAddress] = [],
        certificatePath: String? = nil,
        privateKeyPath: String? = nil,
        hostname: String = ProcessInfo.processInfo.hostName,
        maxMessageSize: Int = SMTPLimits.defaultMaxMessageSize,
        maxRecipients: Int = SMTPLimits.defaultMaxRecipients,
        idleTimeout: TimeAmount = .minutes(5),
        pickupInterval: TimeAmount = .seconds(1),
        spoolDirectory: String = NSTemporaryDirectory(),
        coordinatorID: String = CoordinatorConfiguration.defaultID(),
        httpListen: [SocketAddress] = []
    ) {
        self.lmtpListen = lmtpListen
        self.smtpListen = smtpListen
        self.socketmapListen = socketmapListen
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.hostname = hostname
        self.maxMessageSize = maxMessageSize
        self.maxRecipients = maxRecipients
        self.idleTimeout = idleTimeout
        self.pickupInterval = pickupInterval
        self.spoolDirectory = spoolDirectory
        self.coordinatorID = coordinatorID
        self.httpListen = httpListen
    }

    /// The host name cut to a-z, 0-9 and -, as lock records want it.
    public static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName.lowercased()
        let id = String(String.UnicodeScalarView(host.unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }.prefix(32)))
        return id.isEmpty ? "coordinator" : id
    }
}
