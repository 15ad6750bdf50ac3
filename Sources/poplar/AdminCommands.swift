import Admin
import ArgumentParser
import Coordinator
import Foundation
import SharedStore

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a mail root; write a new cluster GUID to the GUID file if it does not exist."
    )
    @OptionGroup var common: CommonOptions
    @Option(name: .customLong("kdf-rounds"), help: "PBKDF2 rounds for password records (default \(PasswordHasher.defaultRounds)).")
    var kdfRounds: Int = PasswordHasher.defaultRounds
    @Option(name: .customLong("lock-lease"), help: "The mailbox lock's lease in seconds, the same for the whole cluster (default \(LockLease.initMilliseconds / 1000)); a dead node's mailboxes are served elsewhere this long after its last liveness beat.")
    var lockLease: Double = Double(LockLease.initMilliseconds) / 1000
    @Option(name: .customLong("lock-rule"), help: "node: sessions are guarded by their node's liveness record and never heartbeat (default); lease: every session also heartbeats its own lock, for clusters with nodes of an earlier version.")
    var lockRule: LockRule = .node

    func run() async throws {
        let reader = try await common.reader()
        let root = try common.resolvedRoot(reader)
        let guidPath = common.resolvedGUIDFile(reader)
        guard kdfRounds >= 1 else { throw UserError("--kdf-rounds must be positive") }
        // Checked as a Double first: NaN or a huge value would trap in the conversion to Int.
        guard lockLease * 1000 >= Double(LockLease.minimumMilliseconds), lockLease <= 3600 else {
            throw UserError("--lock-lease must be between \(Double(LockLease.minimumMilliseconds) / 1000) and 3600 seconds")
        }
        let leaseMs = Int((lockLease * 1000).rounded())
        if !root.hasPrefix("nfs://") { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) }
        let volume = try CommonOptions.openVolume(root)
        let (guid, created) = try storeCall("cannot create the GUID file \(guidPath)") {
            try ClusterGUID.loadOrCreate(file: guidPath)
        }
        _ = try storeCall("cannot initialise \(root)") {
            try MailStore.initialize(volume: volume, guid: guid, kdfRounds: kdfRounds, lockLease: LockLease(milliseconds: leaseMs), lockRule: lockRule)
        }
        print("initialised mail root \(root)")
        print(created ? "wrote a new cluster GUID to \(guidPath): copy it to every node and coordinator, keep it secret" : "using the cluster GUID in \(guidPath)")
    }
}

struct DomainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domain",
        abstract: "Manage the accepted domains (the metabase).",
        subcommands: [Add.self, Remove.self, List.self, Policy.self, Rename.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept mail for a domain.")
        @OptionGroup var common: CommonOptions
        @Argument var domain: String
        func run() async throws {
            let name = try await common.admin { try $0.addDomain(domain, by: .cli) }
            print("added domain \(name)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop accepting a domain; its mail stays unless --purge.")
        @OptionGroup var common: CommonOptions
        @Argument var domain: String
        @Flag(help: "Also delete the domain's mailboxes and every message in them.") var purge = false
        func run() async throws {
            let name = try await common.admin { try $0.removeDomain(domain, purge: purge, by: .cli) }
            print(purge ? "removed domain \(name) and deleted its mail" : "removed domain \(name) (its mail is kept; --purge deletes it)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accepted domains.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let policies = try await common.admin { try $0.domainPolicies() }
            guard output.json else {
                for domain in policies.keys.sorted() { print(domain) }
                return
            }
            JSONOutput.print(["domains": policies.keys.sorted().map { name -> [String: Any] in
                let p = policies[name] ?? .none
                return ["name": name, "login-delay": p.loginDelay, "expire": JSONOutput.optional(p.expireDays), "reconnect-wins": p.reconnectWins]
            }])
        }
    }
}

struct MailboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox",
        abstract: "Manage mailboxes: add, remove, list, show, passwd, quota, rename, lock, unlock, purge, rekey, journal.",
        subcommands: [Add.self, Remove.self, List.self, Show.self, Passwd.self, Quota.self, Rename.self, Lock.self, Unlock.self, Purge.self, Rekey.self,
                      Journal.self]
    )

    struct Target: ParsableArguments {
        @Argument(help: "The mailbox, as USER@DOMAIN.") var address: String
        func parsed() throws -> MailboxAddress {
            try storeCall("invalid mailbox address \(address)") { try MailboxAddress(parsing: address) }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a mailbox; the password is read from standard input.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input (required unless --external).") var passwordStdin = false
        @Flag(help: "An account of the directory (--auth ldap or pam): no password record here.") var external = false
        @Flag(help: "Allow APOP and CRAM-MD5 (keeps the password sealed with a key derived from the GUID).") var apop = false
        @Option(help: "Quota: bytes or a size with a unit (500M, 2G, 1.5GiB); 0: none.") var quota: String?
        func run() async throws {
            guard passwordStdin != external else {
                throw UserError(external ? "--external mailboxes have no password: leave out --password-stdin"
                                         : "pass --password-stdin and give the password on standard input (or --external for a directory account)")
            }
            if external && apop { throw UserError("--apop needs a password record; an --external mailbox has none") }
            let limit = try quota.map { text -> Int64 in
                guard let bytes = ByteSize.parse(text) else { throw UserError("--quota: \(text) is not a size (bytes, or 500M, 2G, 1.5GiB)") }
                return bytes
            }
            let address = try target.parsed()
            let password = external ? nil : try readPasswordFromStdin()
            try await common.admin { try $0.addMailbox(address.description, password: password, allowAPOP: apop, quota: limit, by: .cli) }
            print("created mailbox \(address)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a mailbox and all its messages.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        func run() async throws {
            let address = try target.parsed()
            try await common.admin { try $0.removeMailbox(address.description, by: .cli) }
            print("removed mailbox \(address)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the mailboxes of a domain, or of every domain.",
            discussion: "With --search, --after or --limit, one page of DOMAIN's mailboxes, as the web console pages them: names containing TEXT, after the mailbox NAME, at most N (the next page's --after is printed on standard error, or as next in --json)."
        )
        @OptionGroup var common: CommonOptions
        @Argument var domain: String?
        @Option(help: "Only names containing TEXT (case-insensitive).") var search: String?
        @Option(help: "Start after this mailbox name (the cursor of the page before).") var after: String?
        @Option(help: "At most N mailboxes (1-\(AdminLimits.maxPageSize)).") var limit: Int?
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let admin = try await common.openAdmin()
            if search != nil || after != nil || limit != nil {
                guard let domain else { throw UserError("--search, --after and --limit page one domain's mailboxes: name the DOMAIN") }
                let size = limit ?? AdminLimits.defaultPageSize
                guard (1...AdminLimits.maxPageSize).contains(size) else { throw UserError("--limit must be 1 to \(AdminLimits.maxPageSize)") }
                let page = try adminCall { try admin.mailboxPage(domain: domain, search: search ?? "", after: after, limit: size) }
                let addresses = page.names.map { "\($0)@\(page.domain)" }
                guard output.json else {
                    for address in addresses { print(address) }
                    if let next = page.next { FileHandle.standardError.write(Data("more: --after \(next)\n".utf8)) }
                    return
                }
                JSONOutput.print(["mailboxes": addresses, "matching": page.matching, "next": JSONOutput.optional(page.next)])
                return
            }
            let all = try adminCall { try admin.mailboxes(in: domain) }
            guard output.json else {
                for address in all { print(address) }
                return
            }
            JSONOutput.print(["mailboxes": all.map(\.description)])
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a mailbox: messages, size, quota, lock holder.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let address = try target.parsed()
            let (store, _) = try await common.openStore()
            let info = try storeCall("cannot read \(address)") { try store.mailboxInfo(address) }
            if output.json {
                JSONOutput.print(["mailbox": info.address.description, "messages": info.messageCount, "bytes": info.totalBytes,
                                  "quota": JSONOutput.optional(info.quota), "apop": info.allowsAPOP, "password": info.hasPassword,
                                  "lock": JSONOutput.lock(info.lock)])
                return
            }
            print("mailbox: \(info.address)")
            print("messages: \(info.messageCount) (\(info.totalBytes) bytes)")
            print("quota: \(info.quota.map { "\($0) bytes" } ?? "none")")
            print("apop: \(info.allowsAPOP ? "allowed" : "not allowed")")
            print("password: \(info.hasPassword ? "in the password file" : "none (external: the directory's account)")")
            print("lock: \(describe(info.lock))")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a mailbox's password (read from standard input).")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        @OptionGroup var password: RequiredPasswordStdin
        @Flag(help: "Allow APOP and CRAM-MD5 for this mailbox.") var apop = false
        func run() async throws {
            let address = try target.parsed()
            let password = try self.password.read()
            try await common.admin { try $0.resetPassword(address.description, password: password, allowAPOP: apop, by: .cli) }
            print("password of \(address) changed")
        }
    }

    struct Lock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lock a mailbox as the administrator: logins get -ERR [SYS/PERM].")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        func run() async throws {
            let address = try target.parsed()
            let (store, _) = try await common.openStore()
            let by = "admin@" + NodeIdentity.host
            try storeCall("cannot lock \(address)") { try store.adminLock(address, by: by) }
            print("locked \(address)")
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the administrator's lock of a mailbox; with --force, break a dead session's lock.",
            discussion: "--force watches the session's lock for one lease and breaks it only if its holder did not heartbeat meanwhile (the takeover path of docs/lock-protocol.md): a live session is never broken."
        )
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        @Flag(help: "Break a session's lock whose holder is dead (waits one lease to be sure).") var force = false
        func run() async throws {
            let address = try target.parsed()
            let admin = try await common.openAdmin()
            guard force else {
                try adminCall { try admin.unlock(address.description, by: .cli) }
                print("unlocked \(address)")
                return
            }
            let broke = try adminCall {
                try admin.forceUnlock(address.description, by: .cli, holder: "admin@" + NodeIdentity.host) { seconds in
                    print("watching the lock of \(address) for \(seconds) s: it is broken only if its holder is dead")
                    Thread.sleep(forTimeInterval: seconds)
                }
            }
            print(broke ? "unlocked \(address)" : "\(address) was not locked")
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every message of a mailbox, keep the mailbox.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        func run() async throws {
            let address = try target.parsed()
            let (store, _) = try await common.openStore()
            let n = try storeCall("cannot purge \(address)") { try store.purge(address) }
            print("deleted \(n) messages from \(address)")
        }
    }
}

func describe(_ lock: LockState) -> String {
    let formatter = ISO8601DateFormatter()
    switch lock {
    case .free:
        return "free"
    case .session(let owner):
        return "held by session \(owner.session) on node \(owner.node) since \(formatter.string(from: owner.since)) (heartbeat \(owner.beat))"
    case .admin(let owner):
        return "locked by the administrator (\(owner.node)) since \(formatter.string(from: owner.since))"
    case .claiming(let owner):
        return "being taken" + (owner.map { " by node \($0.node)" } ?? "")
    case .missing:
        return "missing (no lock file: the mailbox is damaged)"
    }
}

enum NodeIdentity {
    static var host: String { ProcessInfo.processInfo.hostName.lowercased() }
}

struct DeliverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Deliver one message to a mailbox, from FILE or standard input (bytes as given, bare LF to CRLF, no header added).",
        discussion: "Exits with sysexits codes for an MDA (Postfix's mailbox_command, procmail, fetchmail --mda): 0 delivered, 67 EX_NOUSER no such mailbox, 65 EX_DATAERR message too large, 77 EX_NOPERM over quota, 73 EX_CANTCREAT the store refuses to create the file, 75 EX_TEMPFAIL anything that may work later (store unreachable, disk full, the GUID file or configuration unreadable)."
    )
    @OptionGroup var common: CommonOptions
    @Argument(help: "The recipient, USER@DOMAIN.") var address: String
    @Argument(help: "The message file; standard input if absent.") var file: String?
    @Flag(name: .customLong("ignore-quota"), help: "Deliver even over the mailbox's quota.") var ignoreQuota = false

    func run() async throws {
        do {
            try await deliver()
        } catch let exit as DeliverExit {
            FileHandle.standardError.write(Data("poplar: \(exit.message)\n".utf8))
            throw ExitCode(exit.code)
        }
    }

    private func deliver() async throws {
        guard let recipient = try? MailboxAddress(parsing: address) else {
            throw DeliverExit(.noUser, "not delivered: \(address) is not a mailbox address")
        }
        let store: MailStore
        do {
            store = try await common.openStore().0
        } catch {
            throw DeliverExit(.tempFail, "not delivered, try again: \(error)")
        }
        defer { store.releaseDeliverySlot() }
        var fd: Int32 = 0
        if let file {
            fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw DeliverExit(.noInput, "cannot open \(file): \(String(cString: strerror(errno)))") }
        }
        defer { if file != nil { close(fd) } }
        do {
            let info = try LocalDelivery(store: store).deliver(to: recipient, from: fd, enforceQuota: !ignoreQuota)
            print("delivered \(info.size) bytes to \(recipient) as \(info.uidl)")
        } catch let failure as LocalDelivery.Failure {
            switch failure {
            case .unknownRecipient: throw DeliverExit(.noUser, failure.description)
            case .tooLarge: throw DeliverExit(.dataError, failure.description)
            case .unreadable: throw DeliverExit(.tempFail, failure.description)
            }
        } catch let error as StoreError {
            switch error.code {
            case .quotaExceeded: throw DeliverExit(.noPermission, "not delivered: \(recipient) is over its quota")
            case .notFound: throw DeliverExit(.noUser, "not delivered: no such mailbox: \(recipient)")
            case .tooLarge: throw DeliverExit(.dataError, "not delivered: \(error.message)")
            case .permissionDenied: throw DeliverExit(.cantCreate, "not delivered: \(error.message)")
            default: throw DeliverExit(.tempFail, "not delivered, try again: \(error.message)")
            }
        }
    }
}

/// A failed delivery with its sysexits code (sysexits.h), which MDAs act on: 75 is retried, the others bounce.
struct DeliverExit: Error {
    enum Code: Int32 {
        case dataError = 65, noInput = 66, noUser = 67, cantCreate = 73, tempFail = 75, noPermission = 77
    }
    let code: Int32
    let message: String
    init(_ code: Code, _ message: String) {
        self.code = code.rawValue
        self.message = message
    }
}
