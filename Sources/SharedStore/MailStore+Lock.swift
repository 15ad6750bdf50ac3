import Foundation
import Synchronization

/// Why a lock could not be taken: the holder's record, for `[IN-USE]` or `[SYS/PERM]`.
public enum LockRefusal: Error, Sendable, Equatable {
    case inUse(OwnerRecord)
    case adminLocked(OwnerRecord)
}

/// The mailbox lock (docs/lock-protocol.md): `lock` → `kcol.<node>.<nonce>` → `kcol`, and back the same way.
/// Each step is a function of its own, and after an error the names that exist decide.
extension MailStore {
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
        if let privateName = names.first(where: { $0.hasPrefix(Self.heldName + ".") }) {
            return .claiming(try? readRecord(try dir.appending(privateName)))
        }
        return .missing
    }

    func readRecord(_ path: StorePath) throws -> OwnerRecord {
        try OwnerRecord(decoding: try volume.readAll(path, limit: OwnerRecord.maxSize))
    }

    static func privateName(node: String) -> String {
        let clean = String(node.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }.prefix(32).map(Character.init))
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        // The nonce is always 16 hex digits.
        return "\(heldName).\(clean.isEmpty ? "node" : clean).\(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }

    /// Takes the lock for `record`. Throws `LockRefusal` when someone holds it.
    func take(dir: StorePath, record: OwnerRecord) throws {
        let lock = try dir.appending(Self.lockName)
        let held = try dir.appending(Self.heldName)
        let claim = try dir.appending(Self.privateName(node: record.node))
        // 1. Claim: rename to a name only this attempt uses (exactly one racing taker wins).
        do {
            try volume.rename(lock, to: claim)
        } catch let error as StoreError {
            if try volume.exists(claim) {
                // The rename happened; only its reply was lost.
            } else if error.code == .notFound {
                try refuse(dir: dir)
            } else {
                throw error
            }
        }
        // 2. The owner record, durable, then 3. publish as kcol.
        do {
            try volume.writeFile(claim, record.encoded(), exclusive: false)
            do {
                try volume.rename(claim, to: held)
            } catch {
                guard let published = try? readRecord(held), published.isSameHolder(as: record) else { throw error }
            }
        } catch {
            // Could not complete: give the mailbox back, free.
            try? volume.writeFile(claim, [], exclusive: false)
            try? volume.rename(claim, to: lock)
            throw error
        }
    }

    /// Step 1 of `take` found no `lock`: say who holds the mailbox.
    private func refuse(dir: StorePath) throws -> Never {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(dir) } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notFound, message: "no such mailbox")
        }
        switch try lockState(dir: dir, entries: entries) {
        case .session(let r): throw LockRefusal.inUse(r)
        case .admin(let r): throw LockRefusal.adminLocked(r)
        case .claiming(let r): throw LockRefusal.inUse(r ?? OwnerRecord.unknownHolder())
        case .free: throw LockRefusal.inUse(OwnerRecord.unknownHolder())
        case .missing: throw StoreError(code: .corrupt, message: "mailbox \(dir) has no lock file")
        }
    }

    /// Gives the lock back if `record` still holds it; does nothing if someone else does.
    func release(dir: StorePath, record: OwnerRecord) throws {
        let lock = try dir.appending(Self.lockName)
        let held = try dir.appending(Self.heldName)
        let claim = try dir.appending(Self.privateName(node: record.node))
        do {
            try volume.rename(held, to: claim)
        } catch let error as StoreError {
            guard try volume.exists(claim) else {
                if error.code == .notFound { return }  // already released (or never published)
                throw error
            }
        }
        guard let found = try? readRecord(claim), found.isSameHolder(as: record) else {
            // Not ours any more: put it back untouched.
            try volume.rename(claim, to: held)
            return
        }
        try volume.writeFile(claim, [], exclusive: false)
        try volume.renameChecked(claim, to: lock)
    }

    /// Fencing: the published lock still holds exactly this record.
    func holds(dir: StorePath, record: OwnerRecord) -> Bool {
        guard let published = try? readRecord(try dir.appending(Self.heldName)) else { return false }
        return published.isSameHolder(as: record)
    }

    /// Takes the lock for a POP3 session and snapshots the message list under it.
    public func openSession(_ address: MailboxAddress, node: String, session: String) throws -> MailboxSession {
        let dir = try mailboxDir(address)
        let record = OwnerRecord(kind: .session, node: node, session: session, since: Date())
        try take(dir: dir, record: record)
        do {
            let messages = Self.messages(in: try volume.list(dir))
            return MailboxSession(store: self, address: address, dir: dir, owner: record, messages: messages)
        } catch {
            try? release(dir: dir, record: record)
            throw error
        }
    }

    public func adminLock(_ address: MailboxAddress, by: String) throws {
        let dir = try mailboxDir(address)
        if case .admin = try lockState(address) { return }
        try take(dir: dir, record: OwnerRecord(kind: .admin, node: by, session: "admin", since: Date()))
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
}

/// The lock held by one POP3 session, with the message list taken under it (numbers fixed for the session).
public final class MailboxSession: Sendable {
    public let address: MailboxAddress
    public let owner: OwnerRecord
    public let messages: [MessageInfo]
    let store: MailStore
    let dir: StorePath
    private let released = Mutex(false)

    init(store: MailStore, address: MailboxAddress, dir: StorePath, owner: OwnerRecord, messages: [MessageInfo]) {
        self.store = store
        self.address = address
        self.dir = dir
        self.owner = owner
        self.messages = messages
    }

    public func openMessage(_ message: MessageInfo) throws -> any VolumeReadHandle {
        try store.volume.openForReading(try dir.appending(message.fileName))
    }

    /// RFC 1939 §6 UPDATE: checks the lock is still ours (fencing), then deletes. Does not release.
    public func commit(deleting: [MessageInfo]) throws {
        guard !released.withLock({ $0 }), store.holds(dir: dir, record: owner) else {
            throw StoreError(code: .inUse, message: "the mailbox lock of \(address) is no longer held by this session: nothing deleted")
        }
        for m in deleting {
            try store.volume.unlinkChecked(try dir.appending(m.fileName))
        }
        try store.volume.fsyncDirectory(dir)
    }

    /// Idempotent.
    public func release() throws {
        guard !released.withLock({ $0 }) else { return }
        try store.release(dir: dir, record: owner)
        released.withLock { $0 = true }
    }
}
