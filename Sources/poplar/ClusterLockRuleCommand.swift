import ArgumentParser
import SharedStore

extension LockRule: ExpressibleByArgument {}

extension ClusterCommand {
    /// `poplar cluster lock-rule [lease|node]`: shows or sets the cluster's lock rule (docs/lock-protocol.md, "The node
    /// rule"). `node` is refused while a live node does not say it knows the node rule: such a node would judge the
    /// quiet records of node-rule sessions by the lock rule and take a live session's mailbox after a lease.
    struct LockRuleCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lock-rule",
            abstract: "Show or set the cluster's lock rule: node (sessions guarded by their node's liveness record, no per-lock heartbeat) or lease.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "node or lease (leave out to show the current one).") var rule: LockRule?
        @Flag(help: "Set `node` even though some live node does not say it knows it (only when that node is known to be gone).")
        var force = false

        func run() async throws {
            let (store, _) = try await common.openStore()
            guard let rule else {
                print("lock-rule \(store.lockRule.rawValue)")
                return
            }
            if rule == .node && !force {
                let nodes = try storeCall("cannot read the node registry") { try store.nodes() }
                let unaware = nodes.filter { !$0.isSilent() && !$0.lockRules.contains(LockRule.node.rawValue) }
                guard unaware.isEmpty else {
                    let names = unaware.map { "\($0.node) (version \($0.version.isEmpty ? "unknown" : $0.version))" }.joined(separator: ", ")
                    throw UserError("not set: these live nodes do not know the node rule: \(names); upgrade them first (or --force if they are gone)")
                }
            }
            try storeCall("cannot set the lock rule") { try store.setLockRule(rule) }
            switch rule {
            case .node:
                print("lock-rule node: sessions opened from now on do not heartbeat; sessions already open heartbeat to their end (nodes follow within 30 s)")
            case .lease:
                print("lock-rule lease: sessions opened from now on heartbeat their own lock too (nodes follow within 30 s); sessions already open keep the node rule")
            }
        }
    }
}
