import Foundation
import SharedStore

/// The cluster as the store sees it: every node of the registry and who holds the coordinators' lease (the active
/// coordinator, the one that delivers). What `poplar cluster status` prints and the console's cluster page shows.
/// Coordinators, active and standby, are seen by the stats file each rewrites every 10 s (`.poplar/stats/`).
public struct ClusterStatus: Sendable {
    /// A coordinator as its stats file shows it.
    public struct Coordinator: Sendable, Equatable {
        public var id: String
        /// When it last rewrote its stats file (the NAS's clock).
        public var published: Date
        /// It holds the delivery lease.
        public var active: Bool
        /// It published within three intervals of the read (allowing for clock skew) and not at a clean stop: running.
        public var running: Bool
    }

    public var coordinators: [Coordinator] = []
    /// Every published node, by name.
    public var nodes: [NodeRecord]
    /// The coordinators' lease (`.poplar/lease-coordinator/`): `.session` names the active coordinator by its id.
    public var delivery: LockState
    /// When it was read (this machine's clock), to judge `NodeRecord.isSilent` against.
    public var read: Date

    public init(nodes: [NodeRecord], delivery: LockState, read: Date) {
        self.nodes = nodes
        self.delivery = delivery
        self.read = read
    }

    /// Every session of the cluster with its node, by mailbox.
    public var sessions: [(node: String, session: NodeRecord.Session)] {
        nodes.flatMap { n in n.sessions.map { (node: n.node, session: $0) } }.sorted { $0.session.mailbox < $1.session.mailbox }
    }

    /// The mailboxes held by a session, each once.
    public var heldMailboxes: [String] { Array(Set(nodes.flatMap { $0.sessions.map(\.mailbox) })).sorted() }

    /// The delivery lease in words, for the CLI and the console.
    public var deliveryDescription: String {
        let formatter = ISO8601DateFormatter()
        switch delivery {
        case .free, .missing:
            return "no coordinator holds the delivery lease (none running yet, or the last one stopped)"
        case .session(let owner), .admin(let owner):
            return "coordinator \(owner.node) holds the delivery lease since \(formatter.string(from: owner.since))"
        case .claiming(let owner):
            return "the delivery lease is being taken" + (owner.map { " by coordinator \($0.node)" } ?? "")
        }
    }

    /// The active coordinator's id, if one holds the lease.
    public var activeCoordinator: String? {
        switch delivery {
        case .session(let owner), .admin(let owner): return owner.node
        case .claiming(let owner): return owner?.node
        case .free, .missing: return nil
        }
    }
}

extension AdminOperations {
    /// The node registry and the coordinators' lease, read once (blocking).
    public func clusterStatus(now: Date = Date()) throws -> ClusterStatus {
        let nodes = try call("cannot read the node registry") { try store.nodes() }
        let delivery = try call("cannot read the coordinators' lease") { try store.leaseState(MailStore.coordinatorLease) }
        var status = ClusterStatus(nodes: nodes, delivery: delivery, read: now)
        let prefix = "coordinator-"
        status.coordinators = try call("cannot read the processes' stats") { try store.statsPublishers(prefix: prefix) }.map { p in
            let id = String(p.name.dropFirst(prefix.count))
            return ClusterStatus.Coordinator(id: id, published: p.published, active: id == status.activeCoordinator,
                                             running: !p.stopped && abs(now.timeIntervalSince(p.published)) <= 3 * StatsPublisher.interval)
        }
        return status
    }

    /// `poplar node drain`: asks the node to refuse new logins and exit once its sessions end (it reads the request
    /// at its next registry update). Refused for a node not in the registry.
    @discardableResult
    public func drainNode(_ text: String, by actor: AdminActor) throws -> NodeRecord {
        let name = try call("invalid node name") { try Names.validateNodeID(text) }
        guard let record = try call("cannot read the node registry", { try store.nodes() }).first(where: { $0.node == name }) else {
            throw AdminError(.notFound, "no node \(name) in the registry (the cluster status lists them)")
        }
        try call("cannot ask node \(name) to drain") { try store.requestDrain(node: name) }
        try audit(actor, "node.drain", name, detail: "sessions=\(record.sessions.count)")
        return record
    }
}
