import ArgumentParser
import Foundation
import SharedStore

/// `poplar fsck`: the seed's verification of mailboxes and domains, online (nodes keep serving) and lock-aware
/// (the checks are `MailStore.fsck`, docs/operations.md "Checking the store: poplar fsck").
struct FsckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check the store (or one domain or mailbox) and, with --repair, fix what can be fixed safely.",
        discussion: """
            Reports left-over temporary and pickup files, locks whose holder is gone, missing or doubled lock names, \
            messages that cannot be read, domains and mailboxes the metabase and the directories disagree on, and \
            password records keyed by an unknown GUID. --repair removes old temporary files, requeues pickup files, \
            frees dead locks through the lock protocol (after watching them for one lease), and moves unreadable \
            messages to the mailbox's quarantine/ folder; it never deletes a message. \
            Exit status: 0 clean, 1 findings remain, 2 the store cannot be read.
            """
    )
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONOutputOption
    @Argument(help: "A domain or a mailbox (USER@DOMAIN); default: the whole store.") var target: String?
    @Flag(help: "Fix what can be fixed safely (see above); without it nothing is changed.") var repair = false

    func run() async throws {
        let scope: FsckScope
        do {
            if let target, target.contains("@") {
                scope = .mailbox(try MailboxAddress(parsing: target.lowercased()))
            } else if let target {
                scope = .domain(try Names.validateDomain(target))
            } else {
                scope = .store
            }
        } catch let error as StoreError {
            throw UserError("invalid domain or mailbox \(target ?? ""): \(error.message)")
        }
        let report: FsckReport
        do {
            let (store, _) = try await common.openStore()
            let options = MailStore.FsckOptions(repair: repair, by: "fsck@" + NodeIdentity.host)
            let json = output.json
            report = try store.fsck(scope, options: options) { seconds in
                if !json { print("watching the dead locks for one lease (\(seconds) s): each is freed only if its holder stays silent") }
                Thread.sleep(forTimeInterval: seconds)
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("poplar: fsck: the store cannot be read: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if output.json {
            JSONOutput.print([
                "findings": report.findings.map { ["where": $0.location, "problem": $0.problem, "action": $0.action, "repaired": $0.repaired] },
                "checked": ["domains": report.domains, "mailboxes": report.mailboxes, "messages": report.messages],
                "clean": report.clean,
            ])
        } else {
            for f in report.findings { print(f.description) }
            let repaired = report.findings.filter(\.repaired).count
            var summary = "checked \(report.domains) domains, \(report.mailboxes) mailboxes, \(report.messages) messages: "
            if report.findings.isEmpty {
                summary += "clean"
            } else {
                summary += "\(report.findings.count) findings"
                if repair { summary += ", \(repaired) repaired" }
                summary += report.clean ? "; clean now" : "; \(report.findings.count - repaired) remain"
                if !repair && !report.clean { summary += " (--repair fixes what it can)" }
            }
            print(summary)
        }
        if !report.clean { throw ExitCode(1) }
    }
}
