/// Who makes a change, for the audit log: an administrator of the console and the address it came from, or the
/// command line (`cli` on a host).
public struct AdminActor: Sendable, Equatable {
    public var who: String
    public var from: String

    public init(who: String, from: String) {
        self.who = who
        self.from = from
    }

    /// The command line: its changes are audited as `cli` from the host it ran on.
    public static func commandLine(host: String) -> AdminActor { AdminActor(who: "cli", from: host) }
}
