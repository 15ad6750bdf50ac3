import Admin
import ArgumentParser
import SharedStore

extension MailboxCommand {
    /// `poplar mailbox quota USER@DOMAIN SIZE|none`: the seed's per-mailbox storage limit, changed at any time.
    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a mailbox's quota (bytes, or 500M, 2G, 1.5GiB), or none.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        @Argument(help: "The new quota, or none.") var size: String

        func run() async throws {
            let address = try target.parsed()
            let limit: Int64?
            if size.lowercased() == "none" || size == "0" {
                limit = nil
            } else if let bytes = ByteSize.parse(size), bytes > 0 {
                limit = bytes
            } else {
                throw UserError("\(size) is not a size (bytes, or 500M, 2G, 1.5GiB) nor none")
            }
            try await common.admin { try $0.setQuota(address.description, limit, by: .cli) }
            print(limit.map { "quota of \(address): \($0) bytes" } ?? "quota of \(address): none")
        }
    }
}
