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
}
