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
            let r = try await common.admin { try $0.renameMailbox(old, to: new, by: .cli) }
            print("renamed \(r.from) to \(r.to)")
        }
    }
}
