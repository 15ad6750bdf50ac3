import ArgumentParser
import Foundation
import SharedStore

struct ImportMaildirCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maildir",
        abstract: "Import one Maildir (cur/ and new/) into a mailbox, keeping Dovecot's UIDLs (dovecot-uidlist) or Courier's (courierpop3dsizelist).",
        discussion: """
            UIDLs come from dovecot-uidlist: a record's kept POP3 UIDL if it has one, else --uidl-format \
            (Dovecot's pop3_uidl_format; default %08Xu%08Xv, Dovecot's default); without one, from Courier's \
            courierpop3dsizelist (UID<uid>-<uidvalidity>). Files the server never listed get a UIDL derived from \
            their name. The mailbox must exist.
            """
    )
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONOutputOption
    @Argument(help: "The Maildir (the directory holding cur/ and new/).") var directory: String
    @Argument(help: "The mailbox to import into, USER@DOMAIN.") var address: String
    @Option(name: .customLong("uidl-format"), help: "Dovecot's pop3_uidl_format on the source server (%u %v %f %g, modifiers 0, width, X, L, U).")
    var uidlFormat = DovecotUIDLFormat.dovecotDefault

    func run() async throws {
        let reporter = ImportReporter(source: "maildir", json: output.json)
        try await ImportRunner.run(common, reporter) { store in
            let target = try ImportRunner.address(address)
            try ImportRunner.existing(store, target)
            let format: DovecotUIDLFormat
            do { format = try DovecotUIDLFormat(uidlFormat) } catch let e as StoreError { throw ImportStop(e.message) }
            let plan: MaildirImport.Plan
            do { plan = try MaildirImport.plan(directory: directory, format: format) } catch let e as StoreError { throw ImportStop(e.message) }
            plan.notes.forEach(reporter.note)
            try reporter.run(store, target, plan.items)
        }
    }
}
