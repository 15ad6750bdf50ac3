import ArgumentParser
import Foundation
import SharedStore

struct ImportMboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mbox",
        abstract: "Import one mbox file into a mailbox, keeping X-UIDL headers (qpopper) as the UIDLs.",
        discussion: """
            Messages are split at `From ` lines at the file's start or after an empty line; Content-Length is ignored. \
            >From lines are unquoted as mboxrd (or --quoting mboxo). The X-UIDL header stays in the message. \
            Messages without one get a UIDL derived from their content. The mailbox must exist.
            """
    )
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONOutputOption
    @Argument(help: "The mbox file.") var file: String
    @Argument(help: "The mailbox to import into, USER@DOMAIN.") var address: String
    @Option(help: "How `From ` lines in bodies were quoted: mboxrd (every >*From loses one >) or mboxo (only >From).")
    var quoting: String = MboxImport.Quoting.mboxrd.rawValue

    func run() async throws {
        let reporter = ImportReporter(source: "mbox", json: output.json)
        try await ImportRunner.run(common, reporter) { store in
            guard let q = MboxImport.Quoting(rawValue: quoting) else { throw ImportStop("--quoting: mboxrd or mboxo, not \(LogSafeText.escaped(quoting))") }
            let target = try ImportRunner.address(address)
            try ImportRunner.existing(store, target)
            let plan: MboxImport.Plan
            do { plan = try MboxImport.plan(file: file, quoting: q) } catch let e as StoreError { throw ImportStop(e.message) }
            plan.notes.forEach(reporter.note)
            try reporter.run(store, target, plan.items)
        }
    }
}
