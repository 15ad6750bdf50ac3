import ArgumentParser
import Foundation
import SharedStore

struct ImportPOP3Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pop3",
        abstract: "Import mailboxes from a live POP3 server, keeping the UIDLs it shows; never deletes there.",
        discussion: """
            --accounts is a CSV of user@domain,password: the login at the source (with --source-user local, only the \
            part before @) and the Poplar mailbox, made if missing with that password. Each message is read with RETR \
            in the server's order and kept under the UIDL the server gave it; the session ends with QUIT and no DELE. \
            A second run reads only the messages whose UIDLs are new.
            """
    )
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONOutputOption
    @Option(help: "The source server.") var host: String
    @Option(help: "Its port (default 110; 995 with --tls).") var port: Int?
    @Flag(help: "POP3S: TLS from the first byte (default port 995).") var tls = false
    @Flag(help: "STLS (RFC 2595) after the greeting, before the login; refused if the server does not start TLS.") var stls = false
    @Option(name: .customLong("ca-file"), help: "PEM file of the certificate authorities to trust (default: the system's).") var caFile: String?
    @Flag(help: "Do not verify the server's certificate (a test server; the password still travels encrypted).") var insecure = false
    @Option(help: "A CSV of user@domain,password, one account a line.") var accounts: String
    @Option(name: .customLong("source-user"), help: "The login name at the source: address (user@domain, default) or local (user).")
    var sourceUser = "address"

    func run() async throws {
        let reporter = ImportReporter(source: "pop3", json: output.json)
        try await ImportRunner.run(common, reporter) { store in
            if tls && stls { throw ImportStop("--tls and --stls: one or the other") }
            if (caFile != nil || insecure) && !(tls || stls) { throw ImportStop("--ca-file and --insecure go with --tls or --stls") }
            let settings = ImportPOP3Connection.TLSSettings(caFile: caFile, insecure: insecure, serverName: host)
            let security: ImportPOP3Connection.Security = tls ? .tls(settings) : stls ? .startTLS(settings) : .none
            guard sourceUser == "address" || sourceUser == "local" else { throw ImportStop("--source-user: address or local") }
            let list = try ImportRunner.passwords(accounts)
            for (user, password) in list.sorted(by: { $0.key < $1.key }) {
                let address: MailboxAddress
                do { address = try ImportRunner.address(user) } catch let stop as ImportStop {
                    reporter.failed(user, stop.message)
                    continue
                }
                let login = sourceUser == "local" ? address.mailbox : address.description
                var connected: ImportPOP3Client?
                var items: [ImportItem] = []
                do {
                    let client = try ImportPOP3Client(host: host, port: port ?? (tls ? 995 : 110), security: security)
                    connected = client
                    try client.login(user: login, password: password)
                    let uidls = try client.uidls()
                    let sizes = try client.sizes()
                    guard uidls.count <= ImportLimits.maxMessagesPerMailbox else {
                        throw ImportPOP3Client.Failure(description: "more than \(ImportLimits.maxMessagesPerMailbox) messages")
                    }
                    for (n, uidl) in uidls {
                        items.append(ImportItem(label: "\(host) \(login) message \(n)", uidl: uidl, size: sizes[n]) {
                            do {
                                return try client.retrieve(n, expectedSize: sizes[n])
                            } catch let f as ImportPOP3Client.Failure where !f.refused {
                                throw ImportSourceLost(f.description)
                            }
                        })
                    }
                } catch let f as ImportPOP3Client.Failure {
                    connected?.quit()
                    reporter.failed(address.description, "the source: \(f.description)")
                    continue
                }
                defer { connected?.quit() }
                let created: Bool
                do {
                    created = try ImportRunner.ensure(store, address, password: password)
                } catch let e as StoreError {
                    reporter.failed(address.description, "cannot create it: \(e.message)")
                    continue
                }
                try reporter.run(store, address, items, created: created)
            }
        }
    }
}
