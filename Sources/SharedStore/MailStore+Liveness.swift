import Foundation

/// The node rule's store side (docs/lock-protocol.md, "The node rule"; docs/decisions/0013): node instances'
/// liveness records in `.poplar/live/<instance>`, a node's beat, the watch over every instance, and the judgement
/// O2 makes with them: a lock may be taken over when the instance of its name and the instance of its record's
/// session are dead (their records unchanged for a lease), or are this instance's own leftovers.
extension MailStore {
    static let liveDir = try! StorePath([".poplar", "live"])
    /// A crashed instance's record is removed once seen unchanged this long (its locks went stale long before).
    static let livenessRecordRetention: UInt64 = 3_600 * 1_000_000_000

    /// The cluster's lock rule as last read (`.poplar/cluster`, refreshed with the node's registry record).
    public var lockRule: LockRule { lockRuleBox.withLock { $0 } }

    /// `poplar cluster lock-rule RULE`: the cluster file rewritten (every other line kept). Sessions opened from then
    /// on follow it; sessions already open keep the rule they began with (a `lease` session heartbeats to its end).
    public func setLockRule(_ rule: LockRule) throws {
        try rewriteClusterFile { fields in fields["lock-rule"] = rule.rawValue }
        lockRuleBox.withLock { $0 = rule }
    }

    /// Whether the lock rule (the same name and record seen for a lease) may judge a lock holding `bytes`: not for a
    /// session that declared it never heartbeats (`hb=no`): only the node rule judges those.
    static func lockRuleApplies(to bytes: [UInt8]) -> Bool {
        guard let record = try? OwnerRecord(decoding: bytes) else { return true }
        return record.live == nil || record.heartbeats
    }

    /// Makes this store's sessions guarded by `liveness` (a node does this once, before it serves).
    public func attachLiveness(_ liveness: NodeLiveness) {
        livenessBox.withLock { $0 = liveness }
    }

    /// The node instance this store's sessions belong to (nil in the CLI and the coordinator).
    public var liveness: NodeLiveness? { livenessBox.withLock { $0 } }

    static func livenessPath(_ instance: String) throws -> StorePath {
        guard NodeLiveness.isInstanceID(instance) else { throw StoreError(code: .invalidName, message: "not an instance id") }
        return try liveDir.appending(instance)
    }

    /// One beat of `liveness`: rewrite its record, read it back, and on a match confirm the window from the write's
    /// issue. Nil when confirmed; otherwise why not (the window keeps running out).
    /// A record found damaged (other bytes than written, or too large: a rewrite in place keeps a longer file's tail)
    /// is replaced whole, and that replacement confirms the beat: a damaged file never keeps a live node closed.
    public func beatLiveness(_ liveness: NodeLiveness) -> String? {
        var issued = clock.now()
        do {
            let path = try Self.livenessPath(liveness.instance)
            var record = liveness.nextRecord().encoded()
            do {
                try volume.overwriteExisting(path, record)
            } catch let e as StoreError where e.code == .notFound {
                do { try volume.mkdir(Self.liveDir) } catch let e as StoreError where e.code == .alreadyExists {}
                try volume.writeFile(path, record, exclusive: false)
            }
            if try readLivenessRecord(path) != record {
                issued = clock.now()
                record = liveness.nextRecord().encoded()
                try volume.writeAtomically(path, record, staging: Self.metaTmp)
                guard try readLivenessRecord(path) == record else { return "the liveness record read back is not the one written" }
            }
        } catch {
            return "liveness record: \(error)"
        }
        liveness.confirm(issued: issued)
        return nil
    }

    /// The first `LivenessRecord.maxSize + 1` bytes of a liveness record: a larger file (damaged, or not a record) is
    /// still read, and compared, by what a rewrite in place changes.
    func readLivenessRecord(_ path: StorePath) throws -> [UInt8] {
        let handle = try volume.openForReading(path)
        defer { handle.close() }
        return try handle.read(at: 0, count: LivenessRecord.maxSize + 1)
    }

    /// Refreshes the sighting of every instance's record (a node does this at every beat, so the clock of a dead
    /// instance starts within a beat of its last write). Removes records seen unchanged for
    /// `livenessRecordRetention`, never the instance's own.
    public func scanLiveness(own: NodeLiveness?) throws {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.liveDir) } catch let e as StoreError where e.code == .notFound { entries = [] }
        let ownInstance = own?.instance
        var listed = Set<String>()
        for entry in entries where entry.attributes.kind == .file && NodeLiveness.isInstanceID(entry.name) && entry.name != ownInstance {
            listed.insert(entry.name)
            if let seen = sightLiveness(entry.name), seen.age >= Self.livenessRecordRetention {
                try? volume.unlink(try Self.livenessPath(entry.name))
                livenessWatch.forget(entry.name)
            }
        }
        let now = clock.now()
        for instance in livenessWatch.instances where !listed.contains(instance) && instance != ownInstance {
            // Absent: counts as unchanged bytes of its own. Forgotten once absent for the retention time.
            if livenessWatch.sight(instance, bytes: nil, now: now) >= Self.livenessRecordRetention { livenessWatch.forget(instance) }
        }
    }

    /// Reads `instance`'s record now and records the sighting: the bytes (nil: absent) and for how long exactly
    /// these (or its absence) have been seen. Nil when it cannot be told (the store did not answer). A file too large
    /// to be a record is judged by its first bytes, as a record is: unchanged for a lease is dead.
    func sightLiveness(_ instance: String) -> (age: UInt64, bytes: [UInt8]?)? {
        let bytes: [UInt8]?
        do {
            bytes = try readLivenessRecord(try Self.livenessPath(instance))
        } catch let e as StoreError where e.code == .notFound {
            bytes = nil
        } catch {
            return nil
        }
        return (livenessWatch.sight(instance, bytes: bytes, now: clock.now()), bytes)
    }

    /// An instance none of whose sessions can issue a guarded step: its record was seen unchanged (or absent) for a
    /// whole lease, or (judged by the same node id restarted here: the model's own leftovers of an earlier
    /// incarnation) it names a process of this machine that is dead (`ProcessIncarnation.isDeadHere`). A node of
    /// another id waits the lease, even on the same machine, as a node on another machine must.
    func isInstanceDead(_ instance: String) -> Bool {
        if instance == liveness?.instance { return false }
        guard let seen = sightLiveness(instance) else { return false }
        if seen.age >= lease.nanoseconds { return true }
        guard let bytes = seen.bytes, let record = LivenessRecord(decoding: bytes), record.instance == instance else { return false }
        guard let mine = liveness, Self.nodeLabel(mine.node) == Self.nodeLabel(record.node) else { return false }
        return record.incarnation?.isDeadHere == true
    }

    /// The instance a private lock name carries (`kcol.<node>.<instance>.<nonce>`); nil for the older form without.
    public static func instance(ofPrivateName name: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == heldName, NodeLiveness.isInstanceID(parts[2]) else { return nil }
        return String(parts[2])
    }

    /// O2 by the node rule: nobody who could still act on the lock found under `name` with `bytes` can. The name's
    /// instance (a private name's: a taker between T1 and T3, a releaser after R1, a stealer between S2 and S5) and
    /// the session of the record it holds (a lost releaser's R1 is not guarded) must both be dead, or be leftovers
    /// of this very instance that it no longer uses. `kcol` with no readable record is never judged so.
    func nodeRuleAllowsTakeover(name: String, bytes: [UInt8]) -> Bool {
        let mine = liveness
        if name != Self.heldName {
            guard let instance = Self.instance(ofPrivateName: name) else { return false }
            if let mine, instance == mine.instance {
                if mine.isUsing(name: name) { return false }
            } else if !isInstanceDead(instance) {
                return false
            }
        }
        if bytes.isEmpty { return name != Self.heldName }
        guard let holder = try? OwnerRecord(decoding: bytes), holder.kind == .session, let live = holder.live else { return false }
        if let mine, live == mine.instance { return !mine.holdsSession(holder.session) }
        return isInstanceDead(live)
    }

    /// Frees the locks this instance's sessions left behind (`NodeLiveness.noteLeftover`), once its window is open:
    /// each through the take, which reclaims an own leftover at once (the node rule), and R0. A lock someone else
    /// holds by now is not ours to free; a store error tries again at a later beat, a few times.
    public func freeLeftovers(_ liveness: NodeLiveness) {
        guard liveness.isOpen else { return }
        for (dir, attempts) in liveness.takeLeftovers() where !freeLeftover(dir: dir, liveness: liveness) {
            liveness.noteLeftover(dir, attempts: attempts + 1)
        }
    }

    /// True when done (freed, or not ours to free).
    func freeLeftover(dir: StorePath, liveness: NodeLiveness) -> Bool {
        guard let epoch = try? liveness.sessionEpoch() else { return false }
        let window = NodeWindow(liveness: liveness, epoch: epoch)
        let record = OwnerRecord(kind: .session, node: liveness.node, session: "leftover-\(Self.nonce())", since: Date(),
                                 incarnation: ProcessIncarnation.current, live: liveness.instance, heartbeats: lockRule == .lease)
        liveness.beginSession(record.session)
        defer { liveness.endSession(record.session) }
        do {
            let grant = try take(dir: dir, record: record, reclaimDeadPredecessor: true, node: window)
            let held = HeldLock(store: self, dir: dir, owner: record, confirmedAt: grant.confirmedAt, node: window, notesLeftover: false)
            releaseAfterFailure(held)
            return true
        } catch is LockRefusal {
            return true
        } catch let e as StoreError where e.code == .notFound {
            return true  // the mailbox is gone
        } catch {
            return false
        }
    }

    /// At a clean stop: the instance's record goes (its sessions have all ended); other nodes see it absent.
    public func removeLivenessRecord(_ liveness: NodeLiveness) {
        if let path = try? Self.livenessPath(liveness.instance) { try? volume.unlink(path) }
    }
}
