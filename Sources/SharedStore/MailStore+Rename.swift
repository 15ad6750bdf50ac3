import Foundation

/// `poplar mailbox rename OLD NEW`, the seed's rename: held as the administrator (refused while a session holds
/// it), then its files moved into a new directory, the lock first, so the new name is held from its first moment.
/// The directory itself is not renamed: nodes keep NFS handles of mailbox directories by path, and a renamed
/// directory would still answer under its old path there; the old one is removed, so every cached handle of it goes
/// stale. A delivery that was writing into the old mailbox finishes first: its staging file is waited for and its
/// message moved with the others. The secrets bound to the address (the APOP secret, the SCRAM keys) are sealed
/// again for the new name.
extension MailStore {
    /// How long a rename waits for deliveries in flight to the old name before it removes their staging files.
    static let renameDrainNanoseconds: UInt64 = 5_000_000_000

    public func renameMailbox(_ old: MailboxAddress, to new: MailboxAddress) throws {
        guard old != new else { throw StoreError(code: .alreadyExists, message: "\(old) already has that name") }
        guard try mailboxExists(old) else { throw StoreError(code: .notFound, message: "no mailbox \(old)") }
        guard try isDomainAccepted(new.domain) else {
            throw StoreError(code: .notFound, message: "domain \(new.domain) is not in the metabase (`poplar domain add`)")
        }
        let wasLocked: Bool
        if case .admin = try lockState(old) { wasLocked = true } else { wasLocked = false }
        try adminLock(old, by: "admin-rename")
        let from = try mailboxDir(old), to = try mailboxDir(new)
        // The new name is claimed by creating its directory (refused if the name is taken).
        do {
            try volume.mkdir(to)
        } catch let e as StoreError where e.code == .alreadyExists {
            if !wasLocked { try? adminUnlock(old) }
            throw StoreError(code: .alreadyExists, message: "mailbox \(new) already exists")
        } catch let e as StoreError where e.code == .notFound {
            do { try volume.mkdir(try domainDir(new.domain)) } catch let e as StoreError where e.code == .alreadyExists {}
            try volume.mkdir(to)
        }
        try volume.mkdir(try to.appending("tmp"))
        // The administrator's lock first: from now on the new name is held, the old one has no lock.
        try volume.renameChecked(try from.appending(Self.heldName), to: try to.appending(Self.heldName))
        try moveFiles(from: from, to: to)
        try rebindSecrets(from: old, to: new)
        try volume.fsyncDirectory(to)
        if !wasLocked { try adminUnlock(new) }
    }

    /// Every file of `from` into `to`, again while deliveries in flight finish (their staging files in `tmp/`),
    /// then `from` removed. Staging files still there after `renameDrainNanoseconds` are a crashed writer's.
    private func moveFiles(from: StorePath, to: StorePath) throws {
        let staging = try from.appending("tmp")
        let deadline = clock.now() + Self.renameDrainNanoseconds
        for pass in 0... {
            guard pass < 400 else {
                throw StoreError(code: .notEmpty, message: "\(from) cannot be emptied (it holds something other than files): moved so far to \(to)")
            }
            for entry in try volume.list(from) where entry.attributes.kind == .file {
                try volume.renameChecked(try from.appending(entry.name), to: try to.appending(entry.name))
            }
            let inFlight = (try? volume.list(staging)) ?? []
            if inFlight.isEmpty || clock.now() >= deadline {
                for entry in inFlight { try? volume.unlink(try staging.appending(entry.name)) }
                do {
                    try volume.rmdir(staging)
                } catch let e as StoreError where e.code == .notFound {}
                do {
                    try volume.rmdir(from)
                    return
                } catch let e as StoreError where e.code == .notEmpty {
                    continue  // a message linked in at the last moment: moved on the next pass
                }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The APOP secret and the SCRAM keys name their address in their sealing: opened for `old`, sealed for `new`.
    private func rebindSecrets(from old: MailboxAddress, to new: MailboxAddress) throws {
        let dir = try mailboxDir(new)
        guard var record = try? passwordRecord(new), let key = guid(for: record) else { return }  // external: nothing sealed
        let scramPath = try dir.appending(Self.scramName)
        let keys: SCRAMSecret? = (try? volume.readAll(scramPath, limit: 4096)).flatMap {
            SCRAMSecret.decode($0, address: old, phc: record.phc, guid: key)
        }
        if let secret = try PasswordHasher.openSecret(record: record, address: old, guid: key) {
            record.sealedSecret = try PasswordHasher.sealSecret(secret, address: new, guid: key)
            try volume.writeAtomically(try dir.appending("passwd"), record.encoded(), staging: try dir.appending("tmp"))
        }
        if let keys {
            try volume.writeAtomically(scramPath, try keys.encoded(address: new, phc: record.phc, guid: key), staging: try dir.appending("tmp"))
        }
    }
}

extension MailStore {
    /// `poplar domain rename OLD NEW`: the new domain accepted with the old one's policy, every mailbox renamed into
    /// it (`renameMailbox`), then the old domain removed from the metabase and its empty directory. Refused before
    /// anything moves if a session holds any of its mailboxes; each mailbox is held as the administrator from then
    /// until it has moved. Returns how many mailboxes moved.
    @discardableResult
    public func renameDomain(_ old: String, to new: String) throws -> Int {
        let from = try Names.validateDomain(old), to = try Names.validateDomain(new)
        guard from != to else { throw StoreError(code: .alreadyExists, message: "\(from) already has that name") }
        guard let policy = try domainPolicies()[from] else { throw StoreError(code: .notFound, message: "domain \(from) is not in the metabase") }
        guard try domainPolicies()[to] == nil else { throw StoreError(code: .alreadyExists, message: "domain \(to) is already accepted") }
        let mailboxes = try self.mailboxes(in: from)
        // Every mailbox held first, so that none is in use half-way through.
        let held = try holdEveryMailbox(mailboxes, by: "admin-rename")
        try addDomain(to)
        try setDomainPolicy(to, policy)
        var moved = 0
        for address in mailboxes {
            let target = try MailboxAddress(mailbox: address.mailbox, domain: to)
            try renameMailbox(address, to: target)
            if held.contains(address) { try adminUnlock(target) }
            moved += 1
        }
        try removeDomain(from, purge: false)
        do { try volume.rmdir(try domainDir(from)) } catch let e as StoreError where e.code == .notFound || e.code == .notEmpty {}
        return moved
    }

    /// Takes the administrator's lock of each mailbox (one already admin-locked is left as it is); if a session
    /// holds any, gives back those taken and throws its refusal, so that nothing is half done. Returns the ones taken.
    func holdEveryMailbox(_ mailboxes: [MailboxAddress], by holder: String) throws -> [MailboxAddress] {
        var held: [MailboxAddress] = []
        for address in mailboxes {
            if case .admin = try lockState(address) { continue }
            do {
                try adminLock(address, by: holder)
                held.append(address)
            } catch {
                for h in held { try? adminUnlock(h) }
                throw error
            }
        }
        return held
    }
}
