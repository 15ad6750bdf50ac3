import Crypto
import Foundation

/// Penalty records (`PenaltyRecord`) in `.poplar/penalty/`, one file per client network or login name, named by a
/// GUID-keyed hash so that neither addresses nor names appear in the store and every name is short and safe.
/// Written by rename (the last writer wins: two nodes writing one record at the same moment may lose one count).
extension MailStore {
    static let penaltyDir = try! StorePath([".poplar", "penalty"])
    static let penaltyNameInfo = "poplar penalty names v1"

    /// The file name for a key such as `net:198.51.100.7` or `user:alice@example.test`.
    public func penaltyName(_ key: String) -> String {
        let nameKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: guid.key, info: Array(Self.penaltyNameInfo.utf8), outputByteCount: 32)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(key.utf8), using: nameKey)
        return "p-" + mac.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// The record under a name from `penaltyName`; nil when there is none or it cannot be read as one.
    public func penaltyRecord(named name: String) throws -> PenaltyRecord? {
        do {
            return PenaltyRecord(decoding: try volume.readAll(try Self.penaltyDir.appending(name), limit: PenaltyRecord.maxSize))
        } catch let e as StoreError where e.code == .notFound || e.code == .corrupt {
            return nil
        }
    }

    public func writePenaltyRecord(named name: String, _ record: PenaltyRecord) throws {
        let path = try Self.penaltyDir.appending(name)
        do {
            try volume.writeAtomically(path, record.encoded(), staging: Self.metaTmp)
        } catch let e as StoreError where e.code == .notFound {
            do { try volume.mkdir(Self.penaltyDir) } catch let e as StoreError where e.code == .alreadyExists {}
            try volume.writeAtomically(path, record.encoded(), staging: Self.metaTmp)
        }
    }

    /// Claims the slot at `slot` of the queue `name` (an exclusive create, which NFS makes atomic across nodes): two
    /// nodes that read the same record at the same moment cannot both check in one slot. False when taken.
    public func claimPenaltySlot(named name: String, at slot: Date) throws -> Bool {
        let path = try Self.penaltyDir.appending("c-\(name)-\(PenaltyRecord.ms(slot))")
        do {
            try volume.createFile(path, exclusive: true).close()
            return true
        } catch let e as StoreError where e.code == .alreadyExists {
            return false
        } catch let e as StoreError where e.code == .notFound {
            do { try volume.mkdir(Self.penaltyDir) } catch let e as StoreError where e.code == .alreadyExists {}
            return try claimPenaltySlot(named: name, at: slot)
        }
    }

    /// Removes a record; none is not an error.
    public func removePenaltyRecord(named name: String) throws {
        try volume.unlinkChecked(try Self.penaltyDir.appending(name))
    }

    /// Removes the records whose last failure is older than `cutoff`; returns how many. For `poplar fsck` and the
    /// node's sweep: a record past its window is already ignored by every reader.
    public func sweepPenaltyRecords(olderThan cutoff: Date) throws -> Int {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.penaltyDir) } catch let e as StoreError where e.code == .notFound { return 0 }
        var removed = 0
        for entry in entries where entry.attributes.kind == .file && entry.name.hasPrefix("c-") {
            // A claim: its slot is the number after the last '-'.
            if let ms = entry.name.split(separator: "-").last.flatMap({ Int64($0) }), PenaltyRecord.date(ms) < cutoff {
                try removePenaltyRecord(named: entry.name)
                removed += 1
            }
        }
        for entry in entries where entry.attributes.kind == .file && entry.name.hasPrefix("p-") {
            let record = try penaltyRecord(named: entry.name)
            if record.map({ $0.lastFailure < cutoff && $0.nextSlot < cutoff }) ?? true {
                try removePenaltyRecord(named: entry.name)
                removed += 1
            }
        }
        return removed
    }
}
