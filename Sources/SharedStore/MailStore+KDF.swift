import Foundation
import Synchronization

/// The cluster's KDF parameters (`kdf-rounds` in `.poplar/cluster`) change without downtime: `poplar cluster
/// kdf-rounds N` rewrites the cluster file, every node reads it again with its registry record, new records take
/// the new rounds, and a record with fewer rounds is rehashed at its next password login
/// (`replacePasswordRecord`), which never overwrites a password changed meanwhile.
extension MailStore {
    /// The rounds new password records take: the cluster file's, as last read.
    public var currentKDFRounds: Int { kdfRounds.withLock { $0 } }

    /// Reads `.poplar/cluster` again (the GUID check included) and follows its `kdf-rounds`.
    @discardableResult
    public func refreshClusterInfo() throws -> ClusterInfo {
        let info = try Self.decodeClusterFile(try volume.readAll(Self.clusterFile, limit: 64 * 1024), guid: guid)
        kdfRounds.withLock { $0 = max(1, info.kdfRounds) }
        return info
    }

    /// `poplar cluster kdf-rounds N`: the cluster file rewritten with new rounds (under the metabase lease, so two
    /// administrators do not interleave), every other line kept.
    public func setKDFRounds(_ rounds: Int) throws {
        guard (1...PasswordHasher.maxRounds).contains(rounds) else {
            throw StoreError(code: .invalidName, message: "kdf rounds must be 1 to \(PasswordHasher.maxRounds)")
        }
        try withMetabaseLease {
            let text = String(decoding: try volume.readAll(Self.clusterFile, limit: 64 * 1024), as: UTF8.self)
            _ = try Self.decodeClusterFile(Array(text.utf8), guid: guid)
            var lines = text.split(separator: "\n").filter { !$0.hasPrefix("kdf-rounds=") }.map(String.init)
            lines.append("kdf-rounds=\(rounds)")
            try volume.writeAtomically(Self.clusterFile, Array((lines.joined(separator: "\n") + "\n").utf8), staging: Self.metaTmp)
        }
        kdfRounds.withLock { $0 = rounds }
    }

    /// Whether a record should be rehashed: fewer rounds than the cluster's (never fewer than it had: lowering the
    /// cluster's rounds does not weaken records already written).
    public func needsRehash(_ record: PasswordRecord) -> Bool {
        guard let rounds = PasswordHasher.parse(record.phc)?.rounds else { return false }
        return rounds < currentKDFRounds
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
