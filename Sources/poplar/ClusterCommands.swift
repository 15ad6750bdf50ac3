import Admin
import ArgumentParser
import Foundation
import SharedStore

/// `poplar cluster …`: the cluster as the store sees it (docs/operations.md).
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Nodes, sessions and held mailboxes of the cluster; end a session wherever it runs.",
        subcommands: [Status.self, Who.self, Kick.self, Forget.self, KDFRounds.self, LockRuleCommand.self]
    )

    /// Seconds since a node last published itself: its wall clock against ours, for display only.
    static func age(_ d: Date) -> String {
        let s = Date().timeIntervalSince(d)
        return s < 1 ? "just now" : "\(Int(s.rounded())) s ago"
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every node: address, version, draining, sessions and the mailboxes they hold; the coordinator that delivers.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let status = try await common.admin { try $0.clusterStatus() }
            let nodes = status.nodes
            if output.json {
                JSONOutput.print(["nodes": nodes.map { n -> [String: Any] in
                    ["node": n.node, "address": n.address, "version": n.version, "pid": n.pid, "draining": n.draining,
                     "silent": n.isSilent(), "updated": JSONOutput.time(n.updated), "interval-ms": n.intervalMilliseconds,
                     "sessions": n.sessions.sorted { $0.mailbox < $1.mailbox }.map { JSONOutput.session($0) }]
                }, "delivery-coordinator": JSONOutput.optional(status.activeCoordinator),
                "coordinators": status.coordinators.map { c -> [String: Any] in
                    ["id": c.id, "active": c.active, "running": c.running, "published": JSONOutput.time(c.published)]
                }])
                return
            }
            print(status.deliveryDescription)
            for c in status.coordinators {
                print("coordinator \(c.id)  \(c.active ? "active" : (c.running ? "standby" : "not running"))  last seen \(ClusterCommand.age(c.published))")
            }
            if nodes.isEmpty { print("no node has published itself (none running, or none since the registry existed)") }
            for n in nodes {
                let silent = n.isSilent() ? "  SILENT (no update for over 3 of its \(Double(n.intervalMilliseconds) / 1000) s intervals: dead? `poplar cluster forget \(n.node)`)" : ""
                print("node \(n.node)  \(n.address)  version \(n.version)  pid \(n.pid)  \(n.draining ? "DRAINING" : "serving")  sessions \(n.sessions.count)  updated \(ClusterCommand.age(n.updated))\(silent)")
                for s in n.sessions.sorted(by: { $0.mailbox < $1.mailbox }) {
                    print("  holds \(s.mailbox)  (session \(s.session) from \(s.peer))")
                }
            }
        }
    }

    struct Who: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every session of the cluster: mailbox, node, client, since.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var output: JSONOutputOption
        func run() async throws {
            let (store, _) = try await common.openStore()
            let nodes = try storeCall("cannot read the node registry") { try store.nodes() }
            let formatter = ISO8601DateFormatter()
            let rows = nodes.flatMap { n in n.sessions.map { (n.node, $0) } }.sorted { $0.1.mailbox < $1.1.mailbox }
            if output.json {
                JSONOutput.print(["sessions": rows.map { JSONOutput.session($0.1, node: $0.0) }])
                return
            }
            for (node, s) in rows {
                print("\(s.mailbox)  node \(node)  session \(s.session)  from \(s.peer)  since \(formatter.string(from: s.since))")
            }
            print("\(rows.count) session\(rows.count == 1 ? "" : "s") on \(nodes.count) node\(nodes.count == 1 ? "" : "s")")
        }
    }

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the registry record of a node that died without removing it (watches it first).",
            discussion: "Reads the node's record, waits three of its update intervals, and removes the record and the node's control folder only if the record did not change meanwhile. A live node keeps updating it, and the command refuses. The mailboxes a dead node held are freed by the lock's lease, not by this."
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "The node id.") var node: String

        func run() async throws {
            let (store, _) = try await common.openStore()
            let forgotten = try storeCall("cannot forget node \(node)") {
                try store.forgetNode(node) { seconds in
                    print("watching node \(node)'s record for \(String(format: "%.1f", seconds)) s …")
                    Thread.sleep(forTimeInterval: seconds)
                }
            }
            print(forgotten ? "node \(node) forgotten" : "no node \(node) in the registry")
        }
    }

    struct Kick: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End the session holding a mailbox, on whatever node holds it (nothing is deleted).",
            discussion: "The request is left in the holder's control folder; the node ends the session at its next registry update and gives the lock back. A holder that does not respond (dead) is freed by `poplar mailbox unlock --force` or, by itself, after one lease."
        )
        @OptionGroup var common: CommonOptions
        @Argument(help: "The mailbox, user@domain.") var address: String
        @Option(help: "Seconds to wait for the session to end.") var wait: Double = 15

        func run() async throws {
            let admin = try await common.openAdmin()
            let mailbox = try adminCall { try admin.parseAddress(address) }
            guard let holder = try adminCall({ try admin.kick(address, by: .cli) }) else {
                print("\(mailbox) is not held by a session")
                return
            }
            let store = admin.store
            print("asked node \(holder.node) to end session \(holder.session)")
            let deadline = Date().addingTimeInterval(max(0, wait))
            while Date() < deadline {
                if case .session(let now) = try storeCall("cannot read \(mailbox)", { try store.lockState(mailbox) }), now.isSameHolder(as: holder) {
                    try await Task.sleep(nanoseconds: 200_000_000)
                    continue
                }
                print("session \(holder.session) ended; \(mailbox) is no longer held by it")
                return
            }
            throw UserError("node \(holder.node) did not end session \(holder.session) within \(wait) s (is it running? `poplar cluster status`; a dead holder: `poplar mailbox unlock --force \(mailbox)`)")
        }
    }
}

/// `poplar node drain NODE`.
struct NodeDrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Make a node refuse new logins ([SYS/TEMP]), fail its readiness check, and exit once its sessions end."
    )
    @OptionGroup var common: CommonOptions
    @Argument(help: "The node's name (its --node-id).") var node: String
    @Option(help: "Seconds to wait for the node to report that it drains (0: do not wait).") var wait: Double = 10

    func run() async throws {
        let admin = try await common.openAdmin()
        let name = try adminCall { try admin.drainNode(node, by: .cli) }.node
        let store = admin.store
        print("asked node \(name) to drain")
        let deadline = Date().addingTimeInterval(max(0, wait))
        while Date() < deadline {
            let record = try storeCall("cannot read the node registry") { try store.nodes() }.first { $0.node == name }
            guard let record else {
                print("node \(name) is not in the registry (stopped, or drained and gone)")
                return
            }
            if record.draining {
                print("node \(name) is draining: \(record.sessions.count) session\(record.sessions.count == 1 ? "" : "s") to finish")
                return
            }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        if wait > 0 { throw UserError("node \(name) did not report draining within \(wait) s (is it running?)") }
    }
}
