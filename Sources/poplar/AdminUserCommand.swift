import Admin
import ArgumentParser
import SharedStore

/// `poplar admin-user add|passwd|remove|list`: the console's administrators, in the store (`.poplar/admins/`), so
/// every console instance of the cluster knows them (docs/console.md).
struct AdminUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-user",
        abstract: "Manage the web console's administrators: add, passwd, remove, list.",
        subcommands: [Add.self, Passwd.self, Remove.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an administrator; the password is read from standard input.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The name: 1-64 of a-z, 0-9, ., _ and -.") var name: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input (required).") var passwordStdin = false
        func run() async throws {
            guard passwordStdin else { throw UserError("pass --password-stdin and give the password on standard input") }
            let password = try readPasswordFromStdin()
            let admin = try await common.openAdmin()
            let n = try adminCall { try admin.addAdmin(name, password: password, by: .cli) }
            print("added administrator \(n)")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an administrator's password (read from standard input).")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input (required).") var passwordStdin = false
        func run() async throws {
            guard passwordStdin else { throw UserError("pass --password-stdin and give the password on standard input") }
            let password = try readPasswordFromStdin()
            let admin = try await common.openAdmin()
            let n = try adminCall { try admin.setAdminPassword(name, password: password, by: .cli) }
            print("password of administrator \(n) changed")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an administrator (its open console sessions end at their next request).")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        func run() async throws {
            let admin = try await common.openAdmin()
            let n = try adminCall { try admin.removeAdmin(name, by: .cli) }
            print("removed administrator \(n)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the administrators.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let admin = try await common.openAdmin()
            let names = try adminCall { try admin.admins() }
            guard output.json else {
                for n in names { print(n) }
                return
            }
            JSONOutput.print(["admins": names])
        }
    }
}
