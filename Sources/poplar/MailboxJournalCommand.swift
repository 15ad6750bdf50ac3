import ArgumentParser
import Foundation
import SharedStore

extension MailboxCommand {
    /// `poplar mailbox journal USER@DOMAIN [--json]`: the mailbox's access journal, oldest first (issue 16).
    struct Journal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a mailbox's access journal: each session's login time, node, client, mechanism, what it took and deleted, and how it ended.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        @OptionGroup var output: JSONOutputOption

        func run() async throws {
            let address = try target.parsed()
            let (store, _) = try await common.openStore()
            let records = try storeCall("cannot read the journal of \(address)") { try store.journal(address) }
            if output.json {
                JSONOutput.print(["mailbox": address.description, "sessions": records.map { r -> [String: Any] in
                    ["at": JSONOutput.time(r.at), "node": r.node, "session": r.session, "client": r.client, "mechanism": r.mechanism,
                     "retrieved": r.retrieved, "bytes": r.retrievedBytes, "deleted": r.deleted, "ended": r.ended]
                }])
                return
            }
            if records.isEmpty { print("\(address): no session recorded") }
            for r in records {
                print("\(JSONOutput.time(r.at))  node \(r.node)  session \(r.session)  from \(r.client)  \(r.mechanism)  "
                      + "retrieved \(r.retrieved) (\(r.retrievedBytes) bytes)  deleted \(r.deleted)  ended \(r.ended)")
            }
        }
    }
}
