import Admin
import ArgumentParser
import Foundation
import SharedStore

/// `poplar admin-user add|passwd|remove|list`: the console's administrators, in the store (`.poplar/admins/`), so
/// every console instance of the cluster knows them (docs/console.md).
struct AdminUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-user",
        abstract: "Manage the web console's administrators: add, passwd, remove, list.",
        subcommands: [Add.self, Passwd.self, Remove.self, List.self, Token.self, Tokens.self, RevokeToken.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an administrator; the password is read from standard input.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The name: 1-64 of a-z, 0-9, ., _ and -.") var name: String
        @OptionGroup var password: RequiredPasswordStdin
        func run() async throws {
            let password = try self.password.read()
            let n = try await common.admin { try $0.addAdmin(name, password: password, by: .cli) }
            print("added administrator \(n)")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an administrator's password (read from standard input).")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        @OptionGroup var password: RequiredPasswordStdin
        func run() async throws {
            let password = try self.password.read()
            let n = try await common.admin { try $0.setAdminPassword(name, password: password, by: .cli) }
            print("password of administrator \(n) changed")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an administrator (its open console sessions end at their next request).")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        func run() async throws {
            let n = try await common.admin { try $0.removeAdmin(name, by: .cli) }
            print("removed administrator \(n)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the administrators.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let names = try await common.admin { try $0.admins() }
            guard output.json else {
                for n in names { print(n) }
                return
            }
            JSONOutput.print(["admins": names])
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a bearer token for the console's HTTP API (/api/v1) acting as this administrator; printed once.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        @Option(help: "Days the token lives (1-\(MailStore.maxTokenDays); default: until revoked).") var days: Int?
        func run() async throws {
            let made = try await common.admin { try $0.makeToken(for: name, days: days, by: .cli) }
            print(made.token)
            let until = made.record.expires.map { " until \(ISO8601DateFormatter().string(from: $0))" } ?? " until revoked"
            FileHandle.standardError.write(Data("token \(made.record.id) for administrator \(made.record.admin)\(until); it is not shown again\n".utf8))
        }
    }

    struct Tokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the API tokens (ids, administrators, dates; never a secret).")
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let tokens = try await common.admin { try $0.tokens() }
            let f = ISO8601DateFormatter()
            if output.json {
                JSONOutput.print(["tokens": tokens.map { t -> [String: Any] in
                    ["id": t.id, "admin": t.admin, "created": JSONOutput.time(t.created), "expires": JSONOutput.optional(t.expires.map(JSONOutput.time))]
                }])
                return
            }
            for t in tokens {
                print("\(t.id)  \(t.admin)  made \(f.string(from: t.created))  \(t.expires.map { "expires \(f.string(from: $0))" } ?? "until revoked")")
            }
        }
    }

    struct RevokeToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-token", abstract: "Revoke an API token at once (by its id).")
        @OptionGroup var common: CommonOptions
        @Argument var id: String
        func run() async throws {
            try await common.admin { try $0.revokeToken(id, by: .cli) }
            print("revoked token \(id)")
        }
    }
}
