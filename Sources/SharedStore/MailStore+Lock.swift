import Foundation

/// Why a lock could not be taken: the holder's record, for `[IN-USE]` or `[SYS/PERM]`.
public enum LockRefusal: Error, Sendable, Equatable {
    case inUse(OwnerRecord)
    case adminLocked(OwnerRecord)
}

/// What a successful take hands over: when the holder's window starts, and whether it took over a stale lock.
struct LockGrant {
    var confirmedAt: UInt64
    var tookOver: Bool
}

/// The mailbox lock (docs/lock-protocol.md): `lock` → `kcol.<node>.<nonce>` → `kcol`, a steal of a stale lock
/// through the same private name, and back the same way. The step names (T1, S3, R2 …) are the document's; after
/// an error the names that exist decide.
extension MailStore {
    static let intentName = "intent"
    /// A delete intent lists message file names (about 35 bytes each): room for 200,000 of them.
    static let maxIntentSize = 8 << 20

    public func lockState(_ address: MailboxAddress) throws -> LockState {
        let dir = try mailboxDir(address)
        do {
            return try lockState(dir: dir, entries: try volume.list(dir))
        } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notFound, message: "no mailbox \(address)")
        }
    }

    func lockState(dir: StorePath, entries: [DirectoryEntry]) throws -> LockState {
        let names = Set(entries.map(\.name))
        if names.contains(Self.heldName) {
            guard let record = try? readRecord(try dir.appending(Self.heldName)) else { return .claiming(nil) }
            return record.kind == .admin ? .admin(record) : .session(record)
        }
        if names.contains(Self.lockName) { return .free }
        if let privateName = Self.privateLockName(in: entries) {
            // Between T1 and T2 the file still holds the previous holder's record (R0 leaves it): only a record of the
            // node the private name names is the taker's.
            let node = String(privateName.dropFirst(Self.heldName.count + 1).prefix(while: { $0 != "." }))
            guard let record = try? readRecord(try dir.appending(privateName)), Self.nodeLabel(record.node) == node else {
                return .claiming(OwnerRecord(kind: .session, node: node, session: "", since: Date()))
            }
            return .claiming(record)
        }
        return .missing
    }

    static func privateLockName(in entries: [DirectoryEntry]) -> String? {
        entries.first(where: { $0.name.hasPrefix(heldName + ".") })?.name
    }

    func readRecord(_ path: StorePath) throws -> OwnerRecord {
        try OwnerRecord(decoding: try volume.readAll(path, limit: OwnerRecord.maxSize))
    }

    /// `kcol.<node>.<instance>.<nonce>` for a holder guarded by a node instance (the node rule), else
    /// `kcol.<node>.<nonce>`.
    static func privateName(for record: OwnerRecord) -> String {
        if let live = record.live { return "\(heldName).\(nodeLabel(record.node)).\(live).\(nonce())" }
        return "\(heldName).\(nodeLabel(record.node)).\(nonce())"
    }

    /// The end of a step's window that started at `t0`: its own `W`, and the node instance's window if the holder is
    /// guarded by one.
    func windowEnd(from t0: UInt64, node: NodeWindow?) -> UInt64 {
        min(t0 + lease.windowNanoseconds, node?.deadline ?? .max)
    }

    /// Marks a private name as in use by this instance while `body` runs (a name of its own that it does not use
    /// is a leftover it reclaims at once: the node rule).
    func using<T>(_ name: String, for record: OwnerRecord, _ body: () throws -> T) rethrows -> T {
        guard let mine = liveness, record.live == mine.instance else { return try body() }
        mine.beginUsing(name: name)
        defer { mine.endUsing(name: name) }
        return try body()
    }

    /// The node's part of a private name: lowercase letters, digits and "-", at most 32.
    static func nodeLabel(_ node: String) -> String {
        let clean = String(node.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }.prefix(32).map(Character.init))
        return clean.isEmpty ? "node" : clean
    }

    /// 16 hex digits.
    static func nonce() -> String {
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    // MARK: Take

    /// Takes the lock for `record`: T1–T3 when it is free, O1–O2 and S1–S5 when it is held by a stale holder.
    /// Throws `LockRefusal` when someone live (or the administrator) holds it.
    ///
    /// `reclaimDeadPredecessor`: a session record of the same holder name whose process is dead on this very machine
    /// (`ProcessIncarnation.isDeadHere`) is taken over at once, without waiting a lease for a process that cannot
    /// answer (a coordinator or a node restarted after a crash).
    func take(dir: StorePath, record: OwnerRecord, reclaimDeadPredecessor: Bool = false, node: NodeWindow? = nil) throws -> LockGrant {
        let claimName = Self.privateName(for: record)
        return try using(claimName, for: record) {
            try take(dir: dir, record: record, claimName: claimName, reclaimDeadPredecessor: reclaimDeadPredecessor, node: node)
        }
    }

    private func take(dir: StorePath, record: OwnerRecord, claimName: String, reclaimDeadPredecessor: Bool, node: NodeWindow?) throws -> LockGrant {
        let lock = try dir.appending(Self.lockName)
        let claim = try dir.appending(claimName)
        let t0 = clock.now()
        // T1: rename to a name only this attempt uses (exactly one racing taker wins).
        var attempt = 1
        while true {
            do {
                try volume.rename(lock, to: claim)
                break
            } catch let error as StoreError {
                if try volume.exists(claim) {
                    break  // the rename happened; only its reply was lost
                } else if error.code == .notFound {
                    if let grant = try observeOrSteal(dir: dir, record: record, lastTry: attempt == Self.maxTakeAttempts,
                                                      reclaimDeadPredecessor: reclaimDeadPredecessor, node: node) {
                        return grant
                    }
                    attempt += 1  // the lock moved while we looked: try again
                } else {
                    throw error
                }
            }
        }
        // T2: the window started before T1. T2 creates the file if missing (O_CREAT), so it is guarded too: a
        // taker paused past its window must not recreate a private name someone stole.
        do {
            try checkWindow(windowEnd(from: t0, node: node))
            // Flushed, not synced: a record a power cut takes is unreadable or an older holder's, and every holder on
            // that machine died with it: judged stale after a lease either way (VolumeWriteHandle.flush).
            try volume.writeFile(claim, record.encoded(), exclusive: false, durable: false)
            try publish(claim, dir: dir, record: record)
        } catch {
            // Could not complete: give the mailbox back, free. Only a rename: a write could create the private name
            // again after a stealer took it (a taker paused past its window), and a free lock's bytes mean nothing.
            try? volume.renameChecked(claim, to: lock)
            throw error
        }
        observer.forget(mailbox: dir.description)
        return LockGrant(confirmedAt: t0, tookOver: false)
    }

    /// T3 / S5: `rename(private, kcol)`; after an error, `kcol` holding our record means it happened.
    private func publish(_ claim: StorePath, dir: StorePath, record: OwnerRecord) throws {
        let held = try dir.appending(Self.heldName)
        do {
            try volume.rename(claim, to: held)
        } catch {
            guard let published = try? readRecord(held), published.isSameHolder(as: record) else { throw error }
        }
    }

    /// A listing is not atomic with renames (a name renamed during readdir can be missed), and a lock can come free
    /// between T1 and the listing: T1 is tried again this many times before the mailbox is called damaged.
    static let maxTakeAttempts = 4

    /// O1–O2: the lock is not free. Refuses, unless this process has seen the very same lock name and record for a
    /// whole lease: then it steals. Nil: the lock was free or moving when listed; try T1 again.
    private func observeOrSteal(dir: StorePath, record: OwnerRecord, lastTry: Bool, reclaimDeadPredecessor: Bool,
                                node: NodeWindow?) throws -> LockGrant? {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(dir) } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notFound, message: "no such mailbox")
        }
        let state = try lockState(dir: dir, entries: entries)
        let victimName: String
        switch state {
        case .admin(let r):
            throw LockRefusal.adminLocked(r)
        case .missing where lastTry:
            throw StoreError(code: .corrupt, message: "mailbox \(dir) has no lock file")
        case .free where lastTry:
            throw LockRefusal.inUse(OwnerRecord.unknownHolder())
        case .missing, .free:
            return nil
        case .session:
            victimName = Self.heldName
        case .claiming:
            guard let name = entries.contains(where: { $0.name == Self.heldName }) ? Self.heldName : Self.privateLockName(in: entries) else {
                throw LockRefusal.inUse(OwnerRecord.unknownHolder())
            }
            victimName = name
        }
        let victim = try dir.appending(victimName)
        let bytes: [UInt8]
        do {
            bytes = try volume.readAll(victim, limit: OwnerRecord.maxSize)
        } catch {
            // Moving right now: renamed away, or replaced by a fresh file (R3, S4) under our read, which NFS answers
            // with a stale handle. Only if the mailbox itself cannot be reached is the store the problem.
            guard (try? volume.exists(dir)) == true else { throw error }
            throw Self.refusal(state)
        }
        // Reclaim at once only under `kcol` or a private name of this node: under another node's private name the
        // dead record is being stolen right now by a live process, whose name must not be taken from it (found by
        // the model: a second lock name at that stealer's S4).
        if reclaimDeadPredecessor, victimName == Self.heldName || victimName.hasPrefix("\(Self.heldName).\(Self.nodeLabel(record.node))."),
            let holder = try? OwnerRecord(decoding: bytes), holder.kind == .session, holder.node == record.node,
            holder.incarnation?.isDeadHere == true
        {
            return try steal(dir: dir, victim: victim, seen: bytes, state: state, record: record, node: node)
        }
        // The lock rule (the same name and record seen for a whole lease: every holder heartbeats its record), then
        // the node rule (the instances that could act on it are dead, or are this instance's own leftovers).
        let sighting = LockObserver.Sighting(name: victimName, bytes: bytes)
        let byLockRule = Self.lockRuleApplies(to: bytes) && observer.isStale(mailbox: dir.description, sighting, now: clock.now(), lease: lease.nanoseconds)
        guard byLockRule || nodeRuleAllowsTakeover(name: victimName, bytes: bytes)
        else {
            throw Self.refusal(state)
        }
        return try steal(dir: dir, victim: victim, seen: bytes, state: state, record: record, node: node)
    }

    private static func refusal(_ state: LockState) -> LockRefusal {
        switch state {
        case .admin(let r): return .adminLocked(r)
        case .session(let r): return .inUse(r)
        case .claiming(let r): return .inUse(r ?? OwnerRecord.unknownHolder())
        case .free, .missing: return .inUse(OwnerRecord.unknownHolder())
        }
    }

    /// S1–S5: takes over a lock whose name and record did not change for a whole lease.
    private func steal(dir: StorePath, victim: StorePath, seen: [UInt8], state: LockState, record: OwnerRecord,
                       node: NodeWindow?) throws -> LockGrant {
        let claimName = Self.privateName(for: record)
        return try using(claimName, for: record) {
            try steal(dir: dir, victim: victim, seen: seen, state: state, record: record, claimName: claimName, node: node)
        }
    }

    private func steal(dir: StorePath, victim: StorePath, seen: [UInt8], state: LockState, record: OwnerRecord, claimName: String,
                       node: NodeWindow?) throws -> LockGrant {
        let t0 = clock.now()
        let deadline = windowEnd(from: t0, node: node)
        // S1: our record in a fresh file, outside the lock names.
        let fresh = try dir.appending("tmp").appending("take.\(Self.nonce())")
        try volume.writeFile(fresh, record.encoded(), exclusive: true)
        let claim = try dir.appending(claimName)
        // S2: the stale lock into our private name; one stealer wins.
        do {
            try volume.rename(victim, to: claim)
        } catch {
            guard (try? volume.exists(claim)) == true else {
                try? volume.unlink(fresh)
                observer.forget(mailbox: dir.description)
                throw Self.refusal(state)
            }
        }
        // S3: still the stale record? A heartbeat that landed meanwhile means the holder lives: put it back.
        let now = try? volume.readAll(claim, limit: OwnerRecord.maxSize)
        guard now == seen, clock.now() < deadline else {
            try? volume.renameChecked(claim, to: victim)
            try? volume.unlink(fresh)
            observer.forget(mailbox: dir.description)
            throw Self.refusal(state)
        }
        do {
            // S4: our fresh file replaces the stolen one, so a late write into the stolen file changes nothing.
            do {
                try volume.rename(fresh, to: claim)
            } catch {
                guard try !volume.exists(fresh), let mine = try? readRecord(claim), mine.isSameHolder(as: record) else { throw error }
            }
            guard clock.now() < deadline else { throw StoreError(code: .unavailable, message: "the store was too slow to finish a takeover within the lease window") }
            // S5.
            try publish(claim, dir: dir, record: record)
        } catch {
            // We hold the lock under our private name and its holder is gone: leave the mailbox free (a rename only,
            // as in take).
            try? volume.renameChecked(claim, to: try dir.appending(Self.lockName))
            try? volume.unlink(fresh)
            throw error
        }
        observer.forget(mailbox: dir.description)
        return LockGrant(confirmedAt: t0, tookOver: true)
    }

    // MARK: Release

    /// R1–R3: gives the lock back if `record` still holds it; does nothing if someone else does.
    func release(dir: StorePath, record: OwnerRecord, node: NodeWindow? = nil) throws {
        let claimName = Self.privateName(for: record)
        try using(claimName, for: record) { try release(dir: dir, record: record, claimName: claimName, node: node) }
    }

    private func release(dir: StorePath, record: OwnerRecord, claimName: String, node: NodeWindow?) throws {
        let lock = try dir.appending(Self.lockName)
        let held = try dir.appending(Self.heldName)
        let claim = try dir.appending(claimName)
        // R3 is guarded by a window from R1: nobody can see our private name stale before R1 + L, so renaming a fresh
        // file over it before R1 + W cannot recreate a name another process has already stolen (found by the model);
        // and by the node instance's window (the node rule: a session of a lapsed instance issues no guarded step).
        let deadline = windowEnd(from: clock.now(), node: node)
        do {
            try volume.rename(held, to: claim)
        } catch let error as StoreError {
            guard try volume.exists(claim) else {
                if error.code == .notFound { return }  // already released (or never published, or taken over)
                throw error
            }
        }
        guard let found = try? readRecord(claim), found.isSameHolder(as: record) else {
            // Not ours any more: put it back untouched.
            try volume.renameChecked(claim, to: held)
            return
        }
        // R3: a fresh empty file replaces ours before it becomes `lock`, so a heartbeat write of ours still in flight
        // (an NFS call that timed out may land later) lands in a file nobody will read.
        let fresh = try dir.appending("tmp").appending("free.\(Self.nonce())")
        try volume.writeFile(fresh, [], exclusive: true, durable: false)  // empty: nothing to lose
        do {
            // Past the window the private name is left alone: it goes stale after a lease and is taken over.
            try checkWindow(deadline)
            try volume.renameChecked(fresh, to: claim)
        } catch {
            try? volume.unlink(fresh)
            throw error
        }
        try volume.renameChecked(claim, to: lock)
    }

    /// R0, the quick release: a holder inside its window that never issued a heartbeat write does R1 (guarded) and
    /// then renames its private name straight to `lock`, without R2's check or R3's fresh file. Inside the window
    /// nobody can have taken the lock over (a takeover needs the same record seen unchanged for a whole lease, and
    /// L > W), so the private name holds our own file; and with no heartbeat issued no write of ours can be in
    /// flight to land in the next holder's record (T2 was confirmed before T3). The hop through the private name
    /// stays: a retransmitted RENAME that executes late (NFS after a reconnect) then finds its source gone, where a
    /// direct rename(kcol, lock) could free a lock the next holder has since taken. After an error the caller
    /// retries with `finishQuickRelease` and then R1–R3, never R0 again.
    func releaseInWindow(dir: StorePath, claim: StorePath, deadline: UInt64) throws {
        try checkWindow(deadline)
        do {
            try volume.rename(try dir.appending(Self.heldName), to: claim)
        } catch {
            guard try volume.exists(claim) else { throw error }  // it happened; only its reply was lost
        }
        try volume.renameChecked(claim, to: try dir.appending(Self.lockName))
    }

    /// After an R0 that failed: if its private name is still there, R1 happened and nobody took it since (a stealer
    /// renames it away): finish with its rename to `lock`. A rename creates no name, so this is safe at any time.
    /// False if the name is gone: the full release (R1–R3) decides from `kcol`.
    func finishQuickRelease(dir: StorePath, claim: StorePath) throws -> Bool {
        guard try volume.exists(claim) else { return false }
        try volume.renameChecked(claim, to: try dir.appending(Self.lockName))
        return true
    }

    /// Fencing: the published lock still holds exactly this holder's record.
    func holds(dir: StorePath, record: OwnerRecord) -> Bool {
        guard let published = try? readRecord(try dir.appending(Self.heldName)) else { return false }
        return published.isSameHolder(as: record)
    }

    // MARK: Delete intent

    /// T4 / S6: finishes the delete intent a previous holder left, before anything is listed. Unlinks only names
    /// that are message names. Returns how many messages it deleted.
    func finishIntent(dir: StorePath, deadline: UInt64) throws -> Int {
        let path = try dir.appending(Self.intentName)
        let bytes: [UInt8]
        do {
            bytes = try volume.readAll(path, limit: Self.maxIntentSize)
        } catch let e as StoreError where e.code == .notFound {
            return 0
        }
        var deleted = 0
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let name = String(line)
            guard MessageNamer.isMessageName(name) else { continue }
            try checkWindow(deadline)
            let message = try dir.appending(name)
            if try volume.exists(message) {
                try volume.unlinkChecked(message)
                deleted += 1
            }
        }
        try checkWindow(deadline)
        try volume.unlinkChecked(path)
        try volume.fsyncDirectory(dir)
        return deleted
    }

    /// U2: the names to delete, durable under `intent` before the first unlink.
    func writeIntent(dir: StorePath, names: [String]) throws {
        let text = names.map { $0 + "\n" }.joined()
        let tmp = try dir.appending("tmp").appending("intent.\(Self.nonce())")
        do {
            try volume.writeFile(tmp, Array(text.utf8), exclusive: true)
            try volume.renameChecked(tmp, to: try dir.appending(Self.intentName))
        } catch {
            try? volume.unlink(tmp)
            throw error
        }
    }

    /// A guarded step may be issued only inside the holder's window.
    func checkWindow(_ deadline: UInt64) throws {
        guard clock.now() < deadline else {
            throw StoreError(code: .inUse, message: "the lock's lease window ran out before the step could be issued")
        }
    }

    // MARK: Sessions and the administrator

    /// Takes the lock for a POP3 session (taking over a stale one), finishes a delete intent left behind, and
    /// snapshots the message list under the lock. Any failure after the lock was taken gives it back before the
    /// error is returned (`releaseAfterFailure`), so a login that fails never leaves the mailbox held for a lease.
    /// `expireBefore`: messages delivered before this time (the domain's EXPIRE) are left out of the snapshot and
    /// deleted with the session's own deletions at UPDATE.
    ///
    /// The record names this process (`ProcessIncarnation`), so that a node restarted under the same id after a
    /// crash takes its dead predecessor's locks back at once instead of waiting a lease (issue 20; the rule is in
    /// docs/lock-protocol.md, O2, and in the model).
    ///
    /// On a node (a `NodeLiveness` attached) the session is also guarded by the node instance's window, and its record
    /// names the instance (`live=`), so that any node takes the lock over once the instance's liveness record stops
    /// changing for a lease (the node rule), without having looked at the mailbox before. No login while the
    /// instance's window is closed.
    public func openSession(_ address: MailboxAddress, node: String, session: String, expireBefore: Date? = nil) throws -> MailboxSession {
        let dir = try mailboxDir(address)
        let live = liveness
        let window = try live.map { NodeWindow(liveness: $0, epoch: try $0.sessionEpoch()) }
        // Under the cluster's `node` rule a node's session does not heartbeat: its instance's liveness record is its
        // heartbeat. Without an instance (the CLI's lock-race) a session always heartbeats.
        let record = OwnerRecord(kind: .session, node: node, session: session, since: Date(), incarnation: ProcessIncarnation.current,
                                 live: live?.instance, heartbeats: live == nil || lockRule == .lease)
        live?.beginSession(session)
        let grant: LockGrant
        do {
            grant = try take(dir: dir, record: record, reclaimDeadPredecessor: true, node: window)
        } catch {
            live?.endSession(session)
            throw error
        }
        let held = HeldLock(store: self, dir: dir, owner: record, confirmedAt: grant.confirmedAt, node: window)
        do {
            let deadline = windowEnd(from: grant.confirmedAt, node: window)
            // The listing shows a delete intent left behind (T4): finished first, then the mailbox listed again.
            var entries = try volume.list(dir)
            var finished = 0
            if entries.contains(where: { $0.name == Self.intentName }) {
                finished = try finishIntent(dir: dir, deadline: deadline)
                entries = try volume.list(dir)
            }
            var messages = Self.messages(in: entries)
            var expired: [MessageInfo] = []
            if let expireBefore {
                let cutoff = Int64(expireBefore.timeIntervalSince1970 * 1e9)
                let old = Set(entries.filter { $0.attributes.modifiedNanoseconds < cutoff }.map(\.name))
                expired = messages.filter { old.contains($0.fileName) }
                messages.removeAll { old.contains($0.fileName) }
            }
            // T4: a snapshot taken after the window ran out may already be another holder's to change.
            try checkWindow(deadline)
            let journal = entries.first { $0.name == Self.journalName && $0.attributes.kind == .file }
            return MailboxSession(store: self, address: address, dir: dir, lock: held, messages: messages,
                                  tookOver: grant.tookOver, finishedIntent: finished, expired: expired,
                                  journalSize: journal.map(\.attributes.size) ?? -1)
        } catch {
            releaseAfterFailure(held)
            throw error
        }
    }

    /// How many times a lock is given back after a failed login before it is left to go stale.
    static let releaseAfterFailureAttempts = 2

    /// Gives back a lock just taken by a login that then failed. Inside the window and with no heartbeat written
    /// this is R0, renames only: it needs no new file, so it works where the failure was the mailbox refusing
    /// writes or listings (R3's fresh file would fail there and leave the lock held under its private name for a
    /// whole lease). A second try finishes an R0 that failed halfway; only then is the lock left to go stale.
    func releaseAfterFailure(_ held: HeldLock) {
        for _ in 0..<Self.releaseAfterFailureAttempts {
            if (try? held.release()) != nil { return }
        }
    }

    public func adminLock(_ address: MailboxAddress, by: String) throws {
        let dir = try mailboxDir(address)
        if case .admin = try lockState(address) { return }
        _ = try take(dir: dir, record: OwnerRecord(kind: .admin, node: by, session: "admin", since: Date()))
    }

    public func adminUnlock(_ address: MailboxAddress) throws {
        let dir = try mailboxDir(address)
        switch try lockState(address) {
        case .admin(let record):
            try release(dir: dir, record: record)
        case .session(let record):
            throw LockRefusal.inUse(record)
        case .claiming(let record):
            throw LockRefusal.inUse(record ?? OwnerRecord.unknownHolder())
        case .free:
            return
        case .missing:
            throw StoreError(code: .corrupt, message: "mailbox \(address) has no lock file")
        }
    }

    /// `poplar mailbox unlock --force`: breaks a session's lock through the steal path. It observes the lock,
    /// calls `wait` for one lease, and steals and releases only if the lock did not change meanwhile; a live
    /// session's heartbeat makes it refuse with `LockRefusal.inUse`. Returns false if the mailbox was free.
    public func forceUnlock(_ address: MailboxAddress, by: String, wait: (_ seconds: Double) -> Void) throws -> Bool {
        let dir = try mailboxDir(address)
        switch try lockState(address) {
        case .free: return false
        case .admin: try adminUnlock(address); return true
        case .missing: throw StoreError(code: .corrupt, message: "mailbox \(address) has no lock file")
        case .session, .claiming: break
        }
        let record = OwnerRecord(kind: .admin, node: by, session: "force-unlock", since: Date())
        do {
            _ = try take(dir: dir, record: record)
        } catch is LockRefusal {
            wait(Double(lease.milliseconds) / 1000 + 0.1)
            _ = try take(dir: dir, record: record)
        }
        try release(dir: dir, record: record)
        return true
    }
}
