import ArgumentParser
import Foundation
import SharedStore

struct ImportWin2003Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "win2003",
        abstract: "Import a Windows Server 2003 POP3 mail root copied as is (<domain>/P3_<box>.mbx/P3_*.eml).",
        discussion: """
            Every domain and mailbox is created if missing; a created mailbox gets its password from --passwords \
            (CSV lines user@domain,password) or none anyone knows (set one with poplar mailbox passwd). Each message \
            keeps the UIDL Windows served, the file name between P3_ and .eml.
            """
    )
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONOutputOption
    @Argument(help: "The copied mail root (holding one folder per domain).") var mailRoot: String
    @Option(help: "A CSV file of user@domain,password for the mailboxes to create.") var passwords: String?

    func run() async throws {
        let reporter = ImportReporter(source: "win2003", json: output.json)
        try await ImportRunner.run(common, reporter) { store in
            let secrets = try passwords.map(ImportRunner.passwords) ?? [:]
            let plan: Win2003Import.Plan
            do { plan = try Win2003Import.plan(mailRoot: mailRoot) } catch let e as StoreError { throw ImportStop(e.message) }
            plan.notes.forEach(reporter.note)
            for box in plan.mailboxes {
                let created: Bool
                do {
                    created = try ImportRunner.ensure(store, box.address, password: secrets[box.address.description])
                } catch let e as StoreError {
                    reporter.failed(box.address.description, "cannot create it: \(e.message)")
                    continue
                }
                try reporter.run(store, box.address, box.items, created: created)
            }
            let unused = Set(secrets.keys).subtracting(plan.mailboxes.map(\.address.description))
            if !unused.isEmpty { reporter.note("\(unused.count) passwords name no mailbox of the mail root: \(unused.sorted().prefix(5).joined(separator: ", "))") }
        }
    }
}
