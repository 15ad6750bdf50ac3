import ArgumentParser
import SharedStore

extension ClusterCommand {
    /// `poplar cluster kdf-rounds [N]`: shows or sets the PBKDF2 rounds of new password records; records with fewer
    /// are rehashed at their next password login, on whichever node (docs/security.md).
    struct KDFRounds: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kdf-rounds",
            abstract: "Show or set the PBKDF2 rounds of password records; older records are rehashed at their next password login.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The new number of rounds (leave out to show the current one).") var rounds: Int?

        func run() async throws {
            let (store, _) = try await common.openStore()
            guard let rounds else {
                print("kdf-rounds \(store.currentKDFRounds)")
                return
            }
            guard rounds >= 1, rounds <= PasswordHasher.maxRounds else {
                throw UserError("kdf rounds must be 1 to \(PasswordHasher.maxRounds), not \(rounds)")
            }
            if rounds < PasswordHasher.defaultRounds {
                print("warning: \(rounds) rounds is below the recommended \(PasswordHasher.defaultRounds) (OWASP, PBKDF2-HMAC-SHA256)")
            }
            try storeCall("cannot set the kdf rounds") { try store.setKDFRounds(rounds) }
            print("kdf-rounds \(rounds): new passwords use it; older records are rehashed at their next password login (nodes follow within 30 s)")
        }
    }
}
