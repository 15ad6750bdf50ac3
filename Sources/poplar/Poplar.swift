import ArgumentParser
import Foundation
import Node

/// `poplar`: the one executable. Admin commands work on the store directly, so they work while nodes and the
/// coordinator are down (the seed's winpop, without per-server edits).
@main
struct Poplar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poplar",
        abstract: "A clustered POP3 mail service over one shared mail root.",
        discussion: """
            Common options --root, --guid-file and --config may also come from the environment \
            (POPLAR_ROOT, POPLAR_GUID_FILE, POPLAR_CONFIG) or, except --config, from the configuration file.
            """,
        version: "poplar \(PoplarVersion.string) (commit \(BuildInfo.commit))",
        subcommands: [
            InitCommand.self, DomainCommand.self, MailboxCommand.self, DeliverCommand.self,
            NodeCommand.self, CoordinatorCommand.self, DevCommand.self, ClusterCommand.self, GUIDCommand.self, ConfigCommand.self, DoctorCommand.self,
            LockRaceCommand.self,
            FsckCommand.self,
            ImportCommand.self,
            AdminUserCommand.self, ConsoleCommand.self, AuditCommand.self,
        ]
    )
}

/// A failure the user can act on: printed as "poplar: <text>" with exit code 1, no stack trace.
struct UserError: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}
