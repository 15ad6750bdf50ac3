import Foundation

/// Cluster-wide leases (the active coordinator's): a lock directory `.poplar/lease-<name>/` with the very names and
/// protocol of a mailbox lock (docs/lock-protocol.md), so one process at a time holds it, a dead holder's lease is
/// taken over after one lease, and a holder that cannot heartbeat knows it must stop within half of one.
extension MailStore {
    public static let coordinatorLease = "coordinator"

    func leaseDirectory(_ name: String) throws -> StorePath { try StorePath([".poplar", "lease-\(name)"]) }

    /// The lease directory, created atomically with its `lock` inside (a directory renamed into place), so two
    /// processes creating it at once never make two lock names.
    private func ensureLeaseDirectory(_ name: String) throws -> StorePath {
        let dir = try leaseDirectory(name)
        if try volume.exists(dir) { return dir }
        let staging = try Self.metaTmp.appending("lease.\(Self.nonce())")
        try volume.mkdir(staging)
        do {
            try volume.mkdir(try staging.appending("tmp"))  // a takeover's fresh record is written there (S1)
            try volume.writeFile(try staging.appending(Self.lockName), [], exclusive: true)
            try volume.rename(staging, to: dir)
        } catch {
            try? volume.removeTree(staging)
            guard try volume.exists(dir) else { throw error }  // another process made it first
        }
        return dir
    }

    /// Takes the lease `name` for `holder` (a free one at once, a stale one after this process has seen it
    /// unchanged for a whole lease, and at once one held by this holder's own predecessor process that died on this
    /// machine). Throws `LockRefusal.inUse` while a live holder has it.
    public func takeLease(_ name: String, holder: String) throws -> HeldLock {
        let dir = try ensureLeaseDirectory(name)
        let record = OwnerRecord(kind: .session, node: holder, session: "\(name)-\(Self.nonce())", since: Date(),
                                 incarnation: ProcessIncarnation.current)
        let grant = try take(dir: dir, record: record, reclaimDeadPredecessor: true)
        return HeldLock(store: self, dir: dir, owner: record, confirmedAt: grant.confirmedAt)
    }

    public func leaseState(_ name: String) throws -> LockState {
        let dir = try leaseDirectory(name)
        do {
            return try lockState(dir: dir, entries: try volume.list(dir))
        } catch let e as StoreError where e.code == .notFound {
            return .free
        }
    }
}
