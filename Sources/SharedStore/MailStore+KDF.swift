import Foundation
import Synchronization

/// The cluster's KDF parameters (`kdf-rounds` in `.poplar/cluster`) change without downtime: `poplar cluster
/// kdf-rounds N` rewrites the cluster file, every node reads it again with its registry record, new records take
/// the new rounds, and a record with fewer rounds is rehashed at its next password login
/// (`replacePasswordRecord`), which never overwrites a password changed meanwhile.
extension MailStore {
    /// The rounds new password records take: the cluster file's, as last read.
    public var currentKDFRounds: Int { kdfRounds.withLock { $0 } }

    /// Reads `.poplar/cluster` again and follows its `kdf-rounds` and which GUID keys new records (a rotation's
    /// `poplar guid rotate --activate` or `--finish`). A cluster file naming a GUID this process lacks changes
    /// nothing here (the error says so).
    @discardableResult
    public func refreshClusterInfo() throws -> ClusterInfo {
        let (info, current, previous) = try Self.decodeClusterFile(try volume.readAll(Self.clusterFile, limit: 64 * 1024), keyring: keyring)
        kdfRounds.withLock { $0 = max(1, info.kdfRounds) }
        lockRuleBox.withLock { $0 = info.lockRule }
        keys.withLock { $0 = (current, previous) }
        return info
    }

    /// `poplar cluster kdf-rounds N`: the cluster file rewritten with new rounds (under the metabase lease, so two
    /// administrators do not interleave), every other line kept.
    public func setKDFRounds(_ rounds: Int) throws {
        guard (1...PasswordHasher.maxRounds).contains(rounds) else {
            throw StoreError(code: .invalidName, message: "kdf rounds must be 1 to \(PasswordHasher.maxRounds)")
        }
        try rewriteClusterFile { fields in fields["kdf-rounds"] = String(rounds) }
    }

    /// Whether a record should be rehashed: fewer rounds than the cluster's (never fewer than it had: lowering the
    /// cluster's rounds does not weaken records already written), or keyed by a GUID that no longer keys new ones.
    public func needsRehash(_ record: PasswordRecord) -> Bool {
        guard let rounds = PasswordHasher.parse(record.phc)?.rounds else { return false }
        return rounds < currentKDFRounds || guid(for: record) != guid
    }

    /// After a password login with an older record: a new record (and SCRAM keys) from the password just verified.
    /// False when the record changed since it was read (a `mailbox passwd` at the same moment): that one stays.
    public func rehash(_ address: MailboxAddress, password: String, verified record: PasswordRecord) throws -> Bool {
        let replacement = try PasswordHasher.makeRecord(password: password, address: address, guid: guid, rounds: currentKDFRounds,
                                                        allowAPOP: record.allowsAPOP)
        guard try replacePasswordRecord(address, expected: record, with: replacement) else { return false }
        try writeSCRAM(address, password: password, record: replacement)
        return true
    }

    /// Compare and swap of a mailbox's `passwd`: the current file is moved aside (rename, atomic); if it is not
    /// `expected` it is put back, and if a newer one appeared meanwhile the new one is not linked into place (link
    /// refuses an existing name). For a few milliseconds there is no `passwd`: a login in that instant is refused
    /// as a wrong password would be (once per mailbox per KDF change).
    func replacePasswordRecord(_ address: MailboxAddress, expected: PasswordRecord, with replacement: PasswordRecord) throws -> Bool {
        let dir = try mailboxDir(address)
        let passwd = try dir.appending("passwd")
        let nonce = UInt64.random(in: 0...UInt64.max)
        let fresh = try dir.appending("tmp").appending("passwd.new.\(nonce)")
        let aside = try dir.appending("tmp").appending("passwd.old.\(nonce)")
        try volume.writeFile(fresh, replacement.encoded(), exclusive: true)
        defer {
            try? volume.unlink(fresh)
            try? volume.unlink(aside)
        }
        do {
            try volume.rename(passwd, to: aside)
        } catch let e as StoreError where e.code == .notFound {
            return false
        }
        guard try volume.readAll(aside, limit: 64 * 1024) == expected.encoded() else {
            // Changed by someone else: theirs goes back (unless an even newer one is there already).
            try? volume.link(aside, to: passwd)
            return false
        }
        do {
            try volume.link(fresh, to: passwd)
        } catch let e as StoreError where e.code == .alreadyExists {
            return false
        }
        try volume.fsyncDirectory(dir)
        return true
    }
}

extension MailStore {
    /// The GUID that keys `record`: the one its tag names, or for an untagged record (written before GUID rotation
    /// existed) the previous GUID during a rotation, else the current one. Nil when this process lacks it.
    public func guid(for record: PasswordRecord) -> ClusterGUID? {
        let (current, previous) = keys.withLock { $0 }
        guard let tag = record.keyTag else { return previous ?? current }
        return keyring.guid(tag: tag)
    }
}
