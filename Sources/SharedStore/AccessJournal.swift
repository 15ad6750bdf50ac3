import Foundation

/// One session's line in its mailbox's access journal (issue 16): when it logged in, from where, how, what it
/// took and deleted, and how it ended. Text `key=value` fields on one line; every value is cleaned of spaces and
/// controls and bounded, so a line is at most `maxLineBytes`.
public struct AccessRecord: Sendable, Equatable {
    public var at: Date
    public var node: String
    public var session: String
    public var client: String
    /// password (USER/PASS, AUTH PLAIN or LOGIN), apop, cram-md5, scram, oauth, ntlm.
    public var mechanism: String
    public var retrieved: Int
    public var retrievedBytes: Int64
    public var deleted: Int
    /// quit (UPDATE done), update-failed, autologout, disconnect, kicked, shutdown, lock-lost.
    public var ended: String

    public static let maxFieldBytes = 64
    public static let maxLineBytes = 512

    public init(at: Date, node: String, session: String, client: String, mechanism: String, retrieved: Int = 0,
                retrievedBytes: Int64 = 0, deleted: Int = 0, ended: String) {
        self.at = Date(timeIntervalSince1970: (at.timeIntervalSince1970 * 1000).rounded() / 1000)
        self.node = node
        self.session = session
        self.client = client
        self.mechanism = mechanism
        self.retrieved = retrieved
        self.retrievedBytes = retrievedBytes
        self.deleted = deleted
        self.ended = ended
    }

    static func clean(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F && $0 != "=" }.prefix(maxFieldBytes)))
    }

    public func encoded() -> [UInt8] {
        let ms = Int64((at.timeIntervalSince1970 * 1000).rounded())
        let line = "at=\(ms) node=\(Self.clean(node)) session=\(Self.clean(session)) client=\(Self.clean(client)) "
            + "mech=\(Self.clean(mechanism)) retrieved=\(max(0, retrieved)) bytes=\(max(0, retrievedBytes)) deleted=\(max(0, deleted)) "
            + "ended=\(Self.clean(ended))\n"
        return Array(line.utf8)
    }

    /// A line of the journal; nil for one that is not a record (a torn or foreign line is skipped, never fatal).
    public init?(line: Substring) {
        guard line.utf8.count <= Self.maxLineBytes else { return nil }
        var fields: [Substring: Substring] = [:]
        for item in line.split(separator: " ") {
            guard let eq = item.firstIndex(of: "=") else { continue }
            fields[item[..<eq]] = item[item.index(after: eq)...]
        }
        guard let ms = fields["at"].flatMap({ Int64($0) }), let node = fields["node"], let session = fields["session"],
            let ended = fields["ended"]
        else { return nil }
        self.init(at: Date(timeIntervalSince1970: Double(ms) / 1000), node: String(node), session: String(session),
                  client: String(fields["client"] ?? "unknown"), mechanism: String(fields["mech"] ?? "unknown"),
                  retrieved: fields["retrieved"].flatMap { Int($0) } ?? 0, retrievedBytes: fields["bytes"].flatMap { Int64($0) } ?? 0,
                  deleted: fields["deleted"].flatMap { Int($0) } ?? 0, ended: String(ended))
    }
}

/// The journal: `journal` in the mailbox, appended by the session holding the lock (so one writer at a time), at
/// most `maxJournalBytes`; when the next line would not fit, `journal` becomes `journal.1` (the older one goes)
/// and a new `journal` starts. So a mailbox keeps its last 64 to 128 KiB of sessions, some 400 to 800.
extension MailStore {
    public static let journalName = "journal"
    public static let oldJournalName = "journal.1"
    public static let maxJournalBytes: Int64 = 64 * 1024

    /// Appends under the lock's window, checked before each step (a session whose window ran out writes nothing: a
    /// next holder may be writing). RPC budget on NFS: the LOOKUP that opens the journal and one FILE_SYNC WRITE (a
    /// LOOKUP more when the size is not known); a rename and a CREATE more at a rotation.
    /// `knownSize`: the journal's size as the caller already knows it (-1: absent), from a listing taken under the
    /// lock, which only holders of the lock change; nil: looked up here (one NFS call more).
    /// Returns the journal's size after the append.
    @discardableResult
    func appendJournal(dir: StorePath, _ record: AccessRecord, deadline: UInt64, knownSize: Int64? = nil) throws -> Int64 {
        let bytes = record.encoded()
        let path = try dir.appending(Self.journalName)
        var size: Int64 = 0
        if let knownSize {
            size = knownSize
        } else {
            do { size = try volume.stat(path).size } catch let e as StoreError where e.code == .notFound { size = -1 }
        }
        try checkWindow(deadline)
        if size >= 0 && size + Int64(bytes.count) > Self.maxJournalBytes {
            try volume.rename(path, to: try dir.appending(Self.oldJournalName))
            size = -1
        }
        let handle = size < 0 ? try volume.createFile(path, exclusive: false) : try volume.openExisting(path)
        do {
            if size > 0 { try handle.seek(to: size) }
            try handle.write(bytes)
            try handle.flush()  // a line lost in a power cut is an access record, not mail (VolumeWriteHandle.flush)
            try handle.close()
        } catch {
            try? handle.close()
            throw error
        }
        return max(size, 0) + Int64(bytes.count)
    }

    /// `poplar mailbox journal`: the mailbox's sessions, oldest first (both files; lines that are not records are
    /// skipped).
    public func journal(_ address: MailboxAddress) throws -> [AccessRecord] {
        let dir = try mailboxDir(address)
        guard try mailboxPresent(dir) else { throw StoreError(code: .notFound, message: "no mailbox \(address)") }
        var records: [AccessRecord] = []
        for name in [Self.oldJournalName, Self.journalName] {
            let bytes: [UInt8]
            do { bytes = try volume.readAll(try dir.appending(name), limit: Int(Self.maxJournalBytes) * 2) } catch let e as StoreError
                where e.code == .notFound { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                if let record = AccessRecord(line: line) { records.append(record) }
            }
        }
        return records
    }
}

extension MailboxSession {
    /// This session's line in the journal, while it still holds the lock (before `release`).
    public func appendJournal(_ record: AccessRecord) throws {
        try lock.withinWindow("mailbox \(address)") { deadline in
            // Unknown until this append is through (a failed one may have written part of its line).
            let known = journalSize.withLock { size in defer { size = nil }; return size }
            let size = try store.appendJournal(dir: dir, record, deadline: deadline, knownSize: known)
            journalSize.withLock { $0 = size }
        }
    }
}
