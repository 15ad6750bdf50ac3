import ArgumentParser
import Coordinator
import Foundation
import Logging
import NIOCore
import NIOPosix
import Node
import SharedStore

/// `poplar dev`: everything on 127.0.0.1 over a local mail root under ./var, created on first run with a demo
/// domain, a demo mailbox, a welcome message and a self-signed certificate. Runs until Ctrl-C.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Run Poplar locally on 127.0.0.1 with a demo mailbox (state under ./var).")

    @Option(help: "Directory for the mail root, GUID and certificate.") var dir: String = "var"
    @Option(help: "Use this mail root instead of DIR/mail: a path or nfs://server/export?nfsport=N&mountport=M.") var root: String?
    @Option(help: "POP3 port (STLS offered).") var port: Int = 1110
    @Option(name: .customLong("tls-port"), help: "POP3S port (implicit TLS).") var tlsPort: Int = 1995
    @Option(name: .customLong("lmtp-port"), help: "The coordinator's LMTP port.") var lmtpPort: Int = 1024
    @Option(name: .customLong("smtp-port"), help: "The coordinator's SMTP port.") var smtpPort: Int = 1025
    @Option(name: .customLong("log-level")) var logLevel: String = "info"

    static let demoDomain = "poplar.test"
    static let demoUser = "demo"
    static let demoPassword = "demo"

    func run() async throws {
        let fm = FileManager.default
        let base = URL(fileURLWithPath: dir, relativeTo: URL(fileURLWithPath: fm.currentDirectoryPath)).standardizedFileURL.path
        let root = self.root ?? base + "/mail", guidFile = base + "/guid", tlsDir = base + "/tls"
        let cert = tlsDir + "/cert.pem", key = tlsDir + "/key.pem"
        try fm.createDirectory(atPath: base, withIntermediateDirectories: true)
        if !root.hasPrefix("nfs://") { try fm.createDirectory(atPath: root, withIntermediateDirectories: true) }
        let volume = try CommonOptions.openVolume(root)
        let (guid, _) = try storeCall("cannot create \(guidFile)") { try ClusterGUID.loadOrCreate(file: guidFile) }
        let store: MailStore
        let address = try MailboxAddress(mailbox: Self.demoUser, domain: Self.demoDomain)
        if (try? volume.exists(StorePath([".poplar", "cluster"]))) == true {
            store = try storeCall("cannot open \(root)") { try MailStore.open(volume: volume, guid: guid) }
        } else {
            store = try storeCall("cannot initialise \(root)") { try MailStore.initialize(volume: volume, guid: guid, lockLease: LockLease(milliseconds: LockLease.initMilliseconds), lockRule: .node) }
            try storeCall("cannot create the demo domain") { try store.addDomain(Self.demoDomain) }
            try storeCall("cannot create the demo mailbox") {
                try store.createMailbox(address, password: Self.demoPassword, allowAPOP: true, quota: nil)
            }
            let welcome = """
                From: Poplar <postmaster@\(Self.demoDomain)>
                To: \(address)
                Subject: Welcome to Poplar

                This message was delivered by `poplar dev` into \(root).
                .A line that starts with a dot travels dot-stuffed and arrives intact.

                """
            _ = try storeCall("cannot deliver the welcome message") {
                try store.deliver(to: address, message: Array(welcome.utf8), enforceQuota: false)
            }
        }
        if !fm.fileExists(atPath: cert) || !fm.fileExists(atPath: key) {
            try fm.createDirectory(atPath: tlsDir, withIntermediateDirectories: true)
            try makeSelfSignedCertificate(cert: cert, key: key)
        }

        var configuration = NodeConfiguration()
        configuration.listen = [try parseAddress("127.0.0.1:\(port)")]
        configuration.tlsListen = [try parseAddress("127.0.0.1:\(tlsPort)")]
        configuration.certificatePath = cert
        configuration.privateKeyPath = key
        configuration.nodeID = "dev"
        configuration.authFailureDelay = .milliseconds(500)
        configuration.drainTime = .seconds(2)

        let common = "--root \(root) --guid-file \(guidFile)"
        let fetchmailrc = base + "/fetchmailrc"
        try writeFetchmailrc(fetchmailrc, address: address, cert: cert)
        print("""
            Poplar dev: mail root \(root)
              POP3   127.0.0.1:\(port) (STLS)    POP3S 127.0.0.1:\(tlsPort) (self-signed certificate)
              demo mailbox \(address), password "\(Self.demoPassword)"

            Fetch with curl:
              curl pop3://127.0.0.1:\(port)/ -u \(address):\(Self.demoPassword)            # list
              curl pop3://127.0.0.1:\(port)/1 -u \(address):\(Self.demoPassword)           # message 1
              curl -k pop3s://127.0.0.1:\(tlsPort)/1 -u \(address):\(Self.demoPassword)
            Fetch with fetchmail (STLS, the certificate checked against \(cert); keeps the mail on the server):
              fetchmail -f \(fetchmailrc) --nodetach
            Send mail through the coordinator (SMTP 127.0.0.1:\(smtpPort), LMTP 127.0.0.1:\(lmtpPort)):
              swaks --server 127.0.0.1:\(smtpPort) --to \(address) --from you@example.com
              python3 -c "import smtplib; smtplib.SMTP('127.0.0.1', \(smtpPort)).sendmail('you@example.com', ['\(address)'], 'Subject: hi\\n\\nhello\\n')"
            Deliver a message straight into the store:
              printf 'Subject: hi\\n\\nhello\\n' | swift run poplar deliver \(common) \(address)
            Admin:
              swift run poplar mailbox show \(common) \(address)
            Ctrl-C stops it.

            """)
        fflush(nil)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        bootstrapLogging(level: level)
        var coordinator = CoordinatorConfiguration()
        coordinator.lmtpListen = [try parseAddress("127.0.0.1:\(lmtpPort)")]
        coordinator.smtpListen = [try parseAddress("127.0.0.1:\(smtpPort)")]
        coordinator.certificatePath = cert
        coordinator.privateKeyPath = key
        coordinator.hostname = "localhost"
        defer { store.releaseDeliverySlot() }
        try await runServices { pool, logger in
            [
                POP3Server(configuration: configuration, store: store, group: MultiThreadedEventLoopGroup.singleton, threadPool: pool, logger: logger),
                InboundServer(configuration: coordinator, store: store, group: MultiThreadedEventLoopGroup.singleton, threadPool: pool, logger: logger),
            ]
        }
    }

    /// A fetchmailrc (mode 0600, as fetchmail requires) for the demo mailbox: STLS with the dev certificate as the
    /// one trusted, the password in the file (no terminal needed), messages kept and printed by `cat`.
    private func writeFetchmailrc(_ path: String, address: MailboxAddress, cert: String) throws {
        let text = """
            poll localhost via 127.0.0.1 with proto POP3 service \(port) uidl
              user "\(address)" there with password "\(Self.demoPassword)"
              options keep sslproto 'tls1.2+' sslcertck sslcertfile "\(cert)" sslcommonname localhost mda "cat"

            """
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw UserError("cannot write \(path)")
        }
        chmod(path, 0o600)
    }

    private func makeSelfSignedCertificate(cert: String, key: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "365", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw UserError("cannot run openssl to make a self-signed certificate (apt-get install openssl): \(error)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw UserError("openssl could not make a self-signed certificate") }
        chmod(key, 0o600)
    }
}
