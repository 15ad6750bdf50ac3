import ArgumentParser
import Foundation
import SharedStore

/// `poplar import`: moving in from another POP3 server, keeping every message's UIDL (issue 16, docs/migration.md).
/// Resumable (a message whose UIDL the mailbox has is skipped), the source is only read, a progress line on a
/// terminal (standard error), a summary at the end, `--json` for scripts. Exit status: 0 everything imported or
/// already there, 1 some messages or mailboxes had errors (the rest was imported), 2 the import could not run.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import mailboxes from another server, keeping each message's UIDL (Maildir, mbox, Windows 2003 POP3, a live POP3 server).",
        discussion: """
            Run it again to bring what is new: messages whose UIDL the mailbox already has are skipped. The source is \
            opened read-only and nothing is ever deleted there. Exit status: 0 all imported (or already there), \
            1 some messages or mailboxes failed (the others were imported), 2 nothing could be done. docs/migration.md
            """,
        subcommands: [ImportMaildirCommand.self, ImportMboxCommand.self, ImportWin2003Command.self, ImportPOP3Command.self]
    )
}

/// One mailbox's part of an import, for the summary.
struct ImportOutcome {
    var address: String
    var created = false
    var summary = ImportSummary()
    /// A failure of the whole mailbox (it could not be created, the source could not be listed).
    var failure: String?
}

/// The progress line and the summary, shared by every source.
final class ImportReporter {
    let json: Bool
    let source: String
    let tty = isatty(STDERR_FILENO) == 1
    var outcomes: [ImportOutcome] = []
    var notes: [String] = []
    private var lastDraw = Date.distantPast

    init(source: String, json: Bool) {
        self.source = source
        self.json = json
    }

    func note(_ text: String) {
        notes.append(text)
        if !json { FileHandle.standardError.write(Data("poplar: import: \(text)\n".utf8)) }
    }

    /// Called after each message: redrawn at most ten times a second, and only on a terminal.
    func progress(_ mailbox: String, _ p: ImportProgress) {
        guard tty else { return }
        let now = Date()
        guard p.done == p.total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let width = 24
        let filled = p.total == 0 ? width : p.done * width / p.total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\(mailbox) [\(bar)] \(p.done)/\(p.total)  \(p.summary.messages) new, \(Self.size(p.summary.bytes)), \(p.summary.skipped) skipped, \(p.summary.errors.count) errors"
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }

    func endProgressLine() {
        if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    static func size(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1024 * 1024 { return String(format: "%.1f KiB", Double(bytes) / 1024) }
        if bytes < 1024 * 1024 * 1024 { return String(format: "%.1f MiB", Double(bytes) / 1024 / 1024) }
        return String(format: "%.2f GiB", Double(bytes) / 1024 / 1024 / 1024)
    }

    /// Prints the summary (text or one JSON object) and ends with the exit status.
    func finish() throws {
        endProgressLine()
        var total = ImportSummary()
        for o in outcomes { total.add(o.summary) }
        let failedMailboxes = outcomes.filter { $0.failure != nil }.count
        if json {
            JSONOutput.print([
                "source": source,
                "messages": total.messages, "bytes": total.bytes, "skipped": total.skipped,
                "errors": total.errors.count + failedMailboxes,
                "notes": notes,
                "mailboxes": outcomes.map { o -> [String: Any] in
                    ["mailbox": o.address, "created": o.created, "messages": o.summary.messages, "bytes": o.summary.bytes,
                     "skipped": o.summary.skipped, "failure": JSONOutput.optional(o.failure),
                     "errors": o.summary.errors.map { ["where": $0.label, "reason": $0.reason] }]
                },
            ])
        } else {
            for o in outcomes {
                if let failure = o.failure { print("\(o.address): not imported: \(failure)") }
                for e in o.summary.errors { print("\(o.address): error: \(e)") }
                if o.failure == nil {
                    print("\(o.address)\(o.created ? " (created)" : ""): \(o.summary.messages) messages (\(Self.size(o.summary.bytes))) imported, "
                          + "\(o.summary.skipped) already there, \(o.summary.errors.count) errors")
                }
            }
            print("imported \(total.messages) messages (\(total.bytes) bytes) into \(outcomes.count - failedMailboxes) mailboxes; "
                  + "skipped \(total.skipped) already there; \(total.errors.count + failedMailboxes) errors")
        }
        if total.errors.count + failedMailboxes > 0 { throw ExitCode(1) }
    }

    /// Imports one mailbox's items and records the outcome; a store failure stops everything (exit 2).
    func run(_ store: MailStore, _ address: MailboxAddress, _ items: [ImportItem], created: Bool = false) throws {
        var outcome = ImportOutcome(address: address.description, created: created)
        do {
            outcome.summary = try store.importMessages(items, to: address) { p in self.progress(address.description, p) }
        } catch let error as StoreError {
            outcome.failure = "cannot list the mailbox: \(error.message)"
        }
        endProgressLine()
        switch outcome.summary.stopped {
        case nil:
            break
        case .sourceLost(let why):
            outcome.failure = "the source was lost after \(outcome.summary.messages) new messages: \(why) (run the import again to go on)"
        case .storeFailed(let error):
            outcome.failure = "the store failed: \(error.message)"
        }
        outcomes.append(outcome)
        if case .storeFailed(let error) = outcome.summary.stopped {
            throw ImportStop("the store failed while importing into \(address): \(error.message); what was imported stays, run again to go on")
        }
    }

    func failed(_ address: String, _ why: String) {
        outcomes.append(ImportOutcome(address: address, failure: why))
    }
}

/// The import cannot go on: printed as "poplar: import: …" with exit status 2.
struct ImportStop: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

enum ImportRunner {
    /// Opens the store, runs `body`, turns a stop into exit status 2.
    static func run(_ common: CommonOptions, _ reporter: ImportReporter, _ body: (MailStore) throws -> Void) async throws {
        do {
            let (store, _) = try await common.openStore()
            defer { store.releaseDeliverySlot() }
            try body(store)
        } catch let error as UserError {
            FileHandle.standardError.write(Data("poplar: import: \(error.description)\n".utf8))
            throw ExitCode(2)
        } catch {
            guard let message = stopMessage(error) else { throw error }
            reporter.endProgressLine()
            // What was done before the stop is reported too (it stays in the store).
            if !reporter.outcomes.isEmpty { try? reporter.finish() }
            FileHandle.standardError.write(Data("poplar: import: \(message)\n".utf8))
            throw ExitCode(2)
        }
        try reporter.finish()
    }

    /// What ends a whole import with exit status 2 after reporting what was done: a stop, or the store failing.
    static func stopMessage(_ error: any Error) -> String? {
        if let stop = error as? ImportStop { return stop.message }
        if let store = error as? StoreError { return "the store failed: \(store.message); what was imported stays, run again to go on" }
        return nil
    }

    static func address(_ text: String) throws -> MailboxAddress {
        do {
            return try MailboxAddress(parsing: text.lowercased())
        } catch let error as StoreError {
            throw ImportStop("invalid mailbox address \(LogSafeText.escaped(text)): \(error.message)")
        }
    }

    /// The target of a single-mailbox import must exist (made with `poplar mailbox add`).
    static func existing(_ store: MailStore, _ address: MailboxAddress) throws {
        guard (try? store.mailboxExists(address)) == true else {
            throw ImportStop("no mailbox \(address): create it first (poplar mailbox add \(address) --password-stdin)")
        }
    }

    /// A mailbox a multi-mailbox import needs: made if missing (its domain too), with the password if one is given,
    /// else with a random one nobody knows (no login until `poplar mailbox passwd` sets one). Returns true if made.
    static func ensure(_ store: MailStore, _ address: MailboxAddress, password: String?) throws -> Bool {
        if try store.mailboxExists(address) { return false }
        if try !store.isDomainAccepted(address.domain) { try store.addDomain(address.domain) }
        let secret = password ?? (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 36) }.joined(separator: "-")
        do {
            try store.createMailbox(address, password: secret, allowAPOP: false, quota: nil)
        } catch let e as StoreError where e.code == .alreadyExists {
            return false
        }
        return true
    }

    /// A CSV of `user@domain,password` lines (`#` comments and empty lines allowed; the password is the rest of the
    /// line after the first comma, so it may hold commas). Bounded: 1 MiB, lines of 4 KiB.
    static func passwords(_ path: String) throws -> [String: String] {
        let bytes: [UInt8]
        do {
            bytes = try ImportSourceFile.read(path, limit: 1 << 20)
        } catch let e as StoreError {
            throw ImportStop("cannot read the passwords file: \(e.message)")
        }
        var out: [String: String] = [:]
        for (n, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var line = String(decoding: raw, as: UTF8.self)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            guard raw.count <= 4096, let comma = line.firstIndex(of: ",") else {
                throw ImportStop("\(path) line \(n + 1): not `user@domain,password`")
            }
            let user = line[..<comma].trimmingCharacters(in: .whitespaces).lowercased()
            let password = String(line[line.index(after: comma)...])
            guard !password.isEmpty else { throw ImportStop("\(path) line \(n + 1): empty password for \(LogSafeText.escaped(user))") }
            out[user] = password
        }
        return out
    }
}
