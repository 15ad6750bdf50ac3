import ArgumentParser
import SharedStore

extension DomainCommand {
    /// `poplar domain policy DOMAIN [--login-delay D] [--expire DAYS|never] [--reconnect-wins on|off]`: RFC 2449's
    /// LOGIN-DELAY and EXPIRE per domain, announced in CAPA and enforced on every node, and whether a new login ends
    /// the session that holds its mailbox.
    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or set a domain's LOGIN-DELAY (least time between logins) and EXPIRE (retention in days).")
        @OptionGroup var common: CommonOptions
        @Argument var domain: String
        @Option(name: .customLong("login-delay"), help: "Least time between two logins into one mailbox: seconds, or with a unit (90s, 15m, 2h, 1d); 0 for none.")
        var loginDelay: String?
        @Option(help: "Days a message is kept (messages older are deleted at the next session's QUIT); 0: a message retrieved is deleted at QUIT; never (the default).")
        var expire: String?
        @Option(name: .customLong("reconnect-wins"), help: "on: a login with the right password into a mailbox a session holds ends that session (no UPDATE, nothing deleted) and is served when its lock is given back, within a few seconds; off (the default): [IN-USE].")
        var reconnectWins: String?

        func run() async throws {
            let (store, _) = try await common.openStore()
            let name = try storeCall("invalid domain") { try Names.validateDomain(domain) }
            guard var policy = try storeCall("cannot read the metabase", { try store.domainPolicies() })[name] else {
                throw UserError("domain \(name) is not in the metabase")
            }
            if loginDelay != nil || expire != nil || reconnectWins != nil {
                if let loginDelay { policy.loginDelay = try Self.seconds(loginDelay) }
                if let expire { policy.expireDays = try Self.days(expire) }
                if let reconnectWins {
                    switch reconnectWins.lowercased() {
                    case "on", "yes", "true", "1": policy.reconnectWins = true
                    case "off", "no", "false", "0": policy.reconnectWins = false
                    default: throw UserError("--reconnect-wins: \(reconnectWins) is not on or off")
                    }
                }
                let updated = policy
                try storeCall("cannot set the policy of \(name)") { try store.setDomainPolicy(name, updated) }
            }
            print("\(name): login-delay \(policy.loginDelay) s, expire \(policy.expireDays.map { "\($0) days" } ?? "never"), reconnect-wins \(policy.reconnectWins ? "on" : "off")")
        }

        static func seconds(_ text: String) throws -> Int {
            let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
            let unit = text.last.flatMap { units[$0] }
            guard let value = Int(unit == nil ? Substring(text) : text.dropLast()), value >= 0,
                value <= DomainPolicy.maxLoginDelay / (unit ?? 1)
            else { throw UserError("--login-delay: \(text) is not a duration (seconds, or 90s, 15m, 2h, 1d; at most a year)") }
            return value * (unit ?? 1)
        }

        static func days(_ text: String) throws -> Int? {
            if text.lowercased() == "never" { return nil }
            guard let value = Int(text), (0...DomainPolicy.maxExpireDays).contains(value) else {
                throw UserError("--expire: \(text) is not a number of days (0 to \(DomainPolicy.maxExpireDays)) or never")
            }
            return value
        }
    }
}

extension DomainCommand {
    /// `poplar domain rename OLD NEW` (the seed's rename of a domain).
    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rename a domain: every mailbox moves to the new name (refused while a session holds any of them).")
        @OptionGroup var common: CommonOptions
        @Argument var old: String
        @Argument var new: String

        func run() async throws {
            let r = try await common.admin { try $0.renameDomain(old, to: new, by: .cli) }
            print("renamed domain \(r.from) to \(r.to) (\(r.moved) mailbox\(r.moved == 1 ? "" : "es") moved)")
        }
    }
}
