import ArgumentParser
import SharedStore

extension MailboxCommand {
    /// `poplar mailbox rename OLD NEW` (the seed's rename).
    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rename a mailbox (refused while a session holds it); its messages, password and keys go with it.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The mailbox, as USER@DOMAIN.") var old: String
        @Argument(help: "Its new name, as USER@DOMAIN.") var new: String

        func run() async throws {
            let from = try storeCall("invalid mailbox address \(old)") { try MailboxAddress(parsing: old) }
            let to = try storeCall("invalid mailbox address \(new)") { try MailboxAddress(parsing: new) }
            let (store, _) = try await common.openStore()
            try storeCall("cannot rename \(from)") { try store.renameMailbox(from, to: to) }
            print("renamed \(from) to \(to)")
        }
    }
}
