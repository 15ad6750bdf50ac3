import Foundation

/// One thing `poplar fsck` found wrong: where (a mailbox address or a store path), what is wrong, what `--repair`
/// did or would do, and whether it is repaired.
public struct FsckFinding: Sendable, Equatable, CustomStringConvertible {
    public var location: String
    public var problem: String
    public var action: String
    public var repaired: Bool

    public init(location: String, problem: String, action: String, repaired: Bool = false) {
        self.location = location
        self.problem = problem
        self.action = action
        self.repaired = repaired
    }

    public var description: String { "\(location): \(problem); \(action)" }
}

/// What a run of `fsck` checked and found. Clean: nothing found, or everything found was repaired.
public struct FsckReport: Sendable {
    public var findings: [FsckFinding] = []
    public var domains = 0
    public var mailboxes = 0
    public var messages = 0
    public var clean: Bool { findings.allSatisfy(\.repaired) }
}

/// What to check: the whole store, one domain, or one mailbox.
public enum FsckScope: Sendable, Equatable {
    case store
    case domain(String)
    case mailbox(MailboxAddress)
}

/// `poplar fsck` (issue 16): the seed's verification of mailboxes and domains, online and lock-aware. Each check
/// reports what it finds; with `repair` it fixes what it safely can, only through the lock protocol for locks and
/// only under the mailbox's lock (taken as the administrator) for messages. Nothing a live writer may still use
/// is touched: left-over files must be older than `safeAge`, and a lock is freed only through the steal path after
/// its record was seen unchanged for a whole lease (one wait for every such lock of the run). Blocking.
extension MailStore {
    /// Where a clean run writes its time (RFC 3339), read by the nodes for `poplar_fsck_last_clean_timestamp_seconds`.
    public static let fsckLastCleanFile = try! StorePath([".poplar", "fsck-last-clean"])
    /// A mailbox's quarantine folder: messages that cannot be read are moved here, never deleted.
    public static let quarantineName = "quarantine"
    /// Files left by a crashed writer are touched only once they are this old.
    public static let fsckSafeAge: TimeInterval = 3600

    public struct FsckOptions: Sendable {
        public var repair: Bool
        public var safeAge: TimeInterval
        /// Who takes the locks (the owner record's node): `fsck@<host>`.
        public var by: String
        public init(repair: Bool, safeAge: TimeInterval = MailStore.fsckSafeAge, by: String = "fsck") {
            self.repair = repair
            self.safeAge = safeAge
            self.by = by
        }
    }

    /// Runs every check of `scope`. `wait` is called at most once, for one lease, when locks must be watched before
    /// they are freed (`--repair`). Throws only when the store itself cannot be read.
    public func fsck(_ scope: FsckScope, options: FsckOptions, wait: (_ seconds: Double) -> Void) throws -> FsckReport {
        var run = FsckRun(store: self, options: options)
        let metabase = try domains()
        let domainsToCheck: [String]
        switch scope {
        case .store:
            try run.checkMetabase(metabase)
            try run.checkPickup()
            try run.checkStagingFiles(Self.metaTmp, location: ".poplar/tmp")
            domainsToCheck = metabase
        case .domain(let name):
            let d = try Names.validateDomain(name)
            try run.checkMetabase(metabase, only: d)
            domainsToCheck = [d]
        case .mailbox(let a):
            try run.checkMetabase(metabase, only: a.domain)
            domainsToCheck = []
            run.report.domains = 1
            try run.checkMailbox(a)
        }
        let nodes = try self.nodes()
        run.registry = Dictionary(nodes.map { (Self.nodeLabel($0.node), $0) }, uniquingKeysWith: { a, _ in a })
        for d in domainsToCheck {
            run.report.domains += 1
            for a in try mailboxes(in: d) { try run.checkMailbox(a) }
        }
        try run.judgeLocks()
        if options.repair {
            run.freeDeadLocks(wait: wait)
            run.quarantine()
        }
        if scope == .store, run.report.clean {
            let text = ISO8601DateFormatter().string(from: Date()) + "\n"
            try? volume.writeAtomically(Self.fsckLastCleanFile, Array(text.utf8), staging: Self.metaTmp)
        }
        return run.report
    }

    /// The time of the last clean run of the whole store (`.poplar/fsck-last-clean`); nil if none.
    public func fsckLastClean() throws -> Date? {
        let bytes: [UInt8]
        do { bytes = try volume.readAll(Self.fsckLastCleanFile, limit: 256) } catch let e as StoreError where e.code == .notFound { return nil }
        return ISO8601DateFormatter().date(from: String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// One run's state: the findings so far, and what repair must do after every mailbox was seen.
struct FsckRun {
    let store: MailStore
    let options: MailStore.FsckOptions
    var report = FsckReport()
    /// The node registry by node label (the node part of a private lock name).
    var registry: [String: NodeRecord] = [:]
    /// Locks whose holder may be gone, judged once every mailbox was listed (a name seen a moment is not enough).
    var lockSightings: [(address: MailboxAddress, dir: StorePath, name: String, bytes: [UInt8], seenAt: Date)] = []
    /// Locks to free through the steal path: their finding's index.
    var deadLocks: [(address: MailboxAddress, dir: StorePath, finding: Int)] = []
    /// Messages to quarantine, per mailbox: the finding's index and the file name.
    var badMessages: [MailboxAddress: [(finding: Int, name: String)]] = [:]

    var volume: any Volume { store.volume }

    init(store: MailStore, options: MailStore.FsckOptions) {
        self.store = store
        self.options = options
    }

    mutating func add(_ location: String, _ problem: String, would: String, did: String? = nil, repaired: Bool = false) -> Int {
        report.findings.append(FsckFinding(location: location, problem: problem, action: options.repair ? (did ?? would) : would,
                                           repaired: options.repair && repaired))
        return report.findings.count - 1
    }

    func ageOf(_ attributes: FileAttributes) -> TimeInterval {
        Date().timeIntervalSince1970 - Double(attributes.modifiedNanoseconds) / 1e9
    }

    static func ago(_ seconds: TimeInterval) -> String {
        seconds >= 7200 ? "\(Int(seconds / 3600)) hours old" : "\(Int(seconds / 60)) minutes old"
    }

    // MARK: Metabase against directories

    /// A domain in the metabase without its directory (repair makes it), a domain directory not in the metabase
    /// (reported: `poplar domain add` serves it again, or the operator removes it).
    mutating func checkMetabase(_ metabase: [String], only: String? = nil) throws {
        let entries = try volume.list(StorePath.root)
        let dirs = Set(entries.filter { $0.attributes.kind == .directory && !$0.name.hasPrefix(".") }.map(\.name))
        for d in metabase where only == nil || only == d {
            guard !dirs.contains(d) else { continue }
            var did = "directory not made: "
            var repaired = false
            if options.repair {
                do {
                    try volume.mkdir(try store.domainDir(d))
                    did = "made its directory"
                    repaired = true
                } catch let e as StoreError where e.code == .alreadyExists {
                    did = "its directory exists now"
                    repaired = true
                } catch {
                    did += "\(error)"
                }
            }
            _ = add(d, "domain in the metabase has no directory", would: "--repair makes the directory", did: did, repaired: repaired)
        }
        let accepted = Set(metabase)
        for d in dirs.sorted() where (only == nil || only == d) && !accepted.contains(d) {
            _ = add(d, "directory is not a domain of the metabase (its mailboxes refuse logins and mail)",
                    would: "not repaired: `poplar domain add \(d)` serves it again, or remove the directory")
        }
    }

    // MARK: Left-over files

    /// `.poplar/pickup/.work.<n>.<name>`: a file a coordinator claimed and did not finish. Older than the safe age,
    /// repair renames it back to its name (a new name if that is taken), so the next scan delivers it.
    mutating func checkPickup() throws {
        let pickup = try StorePath([".poplar", "pickup"])
        let entries: [DirectoryEntry]
        do { entries = try volume.list(pickup) } catch let e as StoreError where e.code == .notFound { return }
        for e in entries.sorted(by: { $0.name < $1.name }) where e.attributes.kind == .file && e.name.hasPrefix(".work.") {
            let age = ageOf(e.attributes)
            guard age >= options.safeAge else { continue }
            let rest = e.name.dropFirst(".work.".count)
            let original = rest.firstIndex(of: ".").map { String(rest[rest.index(after: $0)...]) } ?? ""
            let name = original.isEmpty || original.hasPrefix(".") ? "requeued-\(MailStore.nonce())" : original
            var did = "not requeued: "
            var repaired = false
            if options.repair {
                do {
                    let target = try requeue(try pickup.appending(e.name), in: pickup, as: name)
                    did = "requeued as .poplar/pickup/\(target)"
                    repaired = true
                } catch {
                    did += "\(error)"
                }
            }
            _ = add(".poplar/pickup/\(e.name)", "pickup file claimed by a coordinator that never finished it (\(Self.ago(age)))",
                    would: "--repair requeues it as .poplar/pickup/\(name)", did: did, repaired: repaired)
        }
    }

    /// link() never replaces: a file dropped since under the same name is kept, and this one gets another name.
    private func requeue(_ work: StorePath, in pickup: StorePath, as name: String) throws -> String {
        var target = name
        for _ in 0..<8 {
            do {
                try volume.link(work, to: try pickup.appending(target))
                try volume.unlinkChecked(work)
                try volume.fsyncDirectory(pickup)
                return target
            } catch let e as StoreError where e.code == .alreadyExists {
                target = "\(name).requeued-\(MailStore.nonce())"
            }
        }
        throw StoreError(code: .alreadyExists, message: "no free name for \(name)")
    }

    /// Files in a staging folder (a mailbox's `tmp/`, `.poplar/tmp`) older than the safe age: what a writer that
    /// crashed left (a delivery, a takeover's record, an intent before its rename). Repair removes them.
    mutating func checkStagingFiles(_ dir: StorePath, location: String) throws {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(dir) } catch let e as StoreError where e.code == .notFound { return }
        for e in entries.sorted(by: { $0.name < $1.name }) where e.attributes.kind == .file {
            let age = ageOf(e.attributes)
            guard age >= options.safeAge else { continue }
            var did = "not removed: "
            var repaired = false
            if options.repair {
                do {
                    try volume.unlinkChecked(try dir.appending(e.name))
                    did = "removed"
                    repaired = true
                } catch {
                    did += "\(error)"
                }
            }
            _ = add("\(location)/\(e.name)", "temporary file left by a writer that crashed (\(Self.ago(age)), \(e.attributes.size) bytes)",
                    would: "--repair removes it", did: did, repaired: repaired)
        }
    }

    // MARK: One mailbox

    mutating func checkMailbox(_ a: MailboxAddress) throws {
        let dir = try store.mailboxDir(a)
        let entries: [DirectoryEntry]
        do { entries = try volume.list(dir) } catch let e as StoreError where e.code == .notFound {
            _ = add("\(a)", "no such mailbox", would: "nothing to repair")
            return
        }
        report.mailboxes += 1
        let names = Set(entries.map(\.name))
        let here = "\(a)"
        // Password records against the directory and the GUID.
        if names.contains("passwd") {
            do {
                let record = try store.passwordRecord(a)
                if let tag = record.keyTag, tag != store.guid.tag, tag != store.previousGUID?.tag {
                    _ = add(here, "password record keyed by a GUID that is neither the current nor the previous one (tag \(tag)): its password no longer opens",
                            would: "not repairable here: set a new password with `poplar mailbox passwd \(a)`")
                }
            } catch {
                _ = add(here, "password record cannot be read (\(error))", would: "not repairable here: set a new password with `poplar mailbox passwd \(a)`")
            }
        } else if !names.contains(MailStore.externalMarker) {
            _ = add(here, "mailbox directory has no password record (passwd) and is not external: logins and mail refuse it",
                    would: "not repairable here: restore its passwd, or remove it with `poplar mailbox remove \(a)`")
        }
        // Staging folder: present, and nothing old left in it.
        if let tmp = entries.first(where: { $0.name == "tmp" }), tmp.attributes.kind == .directory {
            try checkStagingFiles(try dir.appending("tmp"), location: "\(a.domain)/P3_\(a.mailbox).mbx/tmp")
        } else {
            var did = "not made: "
            var repaired = false
            if options.repair {
                do {
                    try volume.mkdir(try dir.appending("tmp"))
                    did = "made tmp/"
                    repaired = true
                } catch {
                    did += "\(error)"
                }
            }
            _ = add(here, "no tmp/ staging folder: deliveries to it fail", would: "--repair makes tmp/", did: did, repaired: repaired)
        }
        // Quota: the store keeps no used bytes (delivery sums the listing); a quota file must hold a byte count.
        if let q = entries.first(where: { $0.name == "quota" }) {
            let bytes = (try? volume.readAll(try dir.appending("quota"), limit: 64)) ?? []
            if MailStore.decodeQuota(bytes) == nil {
                _ = add(here, "quota file does not hold a positive byte count (\(q.attributes.size) bytes): it is read as no quota",
                        would: "not repairable here: set it with `poplar mailbox quota \(a)`")
            }
        }
        checkLockNames(a, dir: dir, entries: entries)
        checkMessages(a, dir: dir, entries: entries)
    }

    // MARK: Locks

    static func isLockName(_ name: String) -> Bool {
        name == MailStore.lockName || name == MailStore.heldName || name.hasPrefix(MailStore.heldName + ".")
    }

    /// Exactly one lock name must exist. None: repair makes `lock` (only after listing again finds none). Two:
    /// reported. One held name: its record is judged after every mailbox was listed (`judgeLocks`).
    mutating func checkLockNames(_ a: MailboxAddress, dir: StorePath, entries: [DirectoryEntry]) {
        var lockNames = entries.map(\.name).filter(Self.isLockName).sorted()
        if lockNames.count != 1 {
            // A listing is not atomic with renames: look again before calling it damaged.
            for _ in 0..<3 {
                guard let again = try? volume.list(dir).map(\.name).filter(Self.isLockName).sorted() else { break }
                lockNames = again
                if again.count == 1 { break }
                usleep(50_000)
            }
        }
        if lockNames.isEmpty {
            var did = "not made: "
            var repaired = false
            if options.repair {
                do {
                    let again = try volume.list(dir).map(\.name).filter(Self.isLockName)
                    if again.isEmpty {
                        try volume.writeFile(try dir.appending(MailStore.lockName), [], exclusive: true)
                        try volume.fsyncDirectory(dir)
                        did = "made a free lock"
                    } else {
                        did = "a lock name is there now (\(again.joined(separator: ", ")))"
                    }
                    repaired = true
                } catch let e as StoreError where e.code == .alreadyExists {
                    did = "a lock is there now"
                    repaired = true
                } catch {
                    did += "\(error)"
                }
            }
            _ = add("\(a)", "no lock name (neither lock nor kcol): every login fails", would: "--repair makes a free lock", did: did, repaired: repaired)
            return
        }
        if lockNames.count > 1 {
            _ = add("\(a)", "\(lockNames.count) lock names (\(lockNames.joined(separator: ", "))): the lock protocol allows one",
                    would: "not repairable here: stop the sessions in it and keep one name (docs/lock-protocol.md)")
            return
        }
        let name = lockNames[0]
        guard name != MailStore.lockName, let path = try? dir.appending(name),
            let bytes = try? volume.readAll(path, limit: OwnerRecord.maxSize)
        else { return }
        lockSightings.append((a, dir, name, bytes, Date()))
    }

    /// Why the holder of a lock record is gone, judged at once from what the store says; nil: it may be alive.
    func deadHolder(name: String, bytes: [UInt8]) -> String? {
        let record = try? OwnerRecord(decoding: bytes)
        if let record, record.kind == .admin { return nil }  // an administrator's lock is never stale
        let label: String
        if name == MailStore.heldName {
            guard let record else { return nil }  // being rewritten: nothing to judge
            label = MailStore.nodeLabel(record.node)
        } else {
            label = String(name.dropFirst(MailStore.heldName.count + 1).prefix(while: { $0 != "." }))
        }
        let node = record.map { MailStore.nodeLabel($0.node) == label ? $0.node : label } ?? label
        if let record, MailStore.nodeLabel(record.node) == label, let inc = record.incarnation, inc.isDeadHere {
            return "held by node \(node), whose process (pid \(inc.pid) on this machine) is dead"
        }
        guard let entry = registry[label] else {
            return "held by node \(node), which is not in the node registry"
        }
        if entry.isSilent() {
            return "held by node \(node), whose registry record is silent (last update \(ISO8601DateFormatter().string(from: entry.updated)))"
        }
        return nil
    }

    /// The held locks whose holder is gone: a name and record still the same when looked at again (at least a
    /// second after the first look, so a take or release in flight is never reported).
    mutating func judgeLocks() throws {
        guard !lockSightings.isEmpty else { return }
        if let first = lockSightings.map(\.seenAt).min(), Date().timeIntervalSince(first) < 1 {
            usleep(UInt32(max(0, 1 - Date().timeIntervalSince(first)) * 1_000_000))
        }
        for s in lockSightings {
            guard let why = deadHolder(name: s.name, bytes: s.bytes),
                let now = try? volume.readAll(try s.dir.appending(s.name), limit: OwnerRecord.maxSize), now == s.bytes
            else { continue }
            let i = add("\(s.address)", "lock \(s.name) \(why)",
                        would: "--repair frees it through the lock protocol's steal path, after one lease unchanged")
            deadLocks.append((s.address, s.dir, i))
        }
    }

    /// Steals and releases each dead lock through the protocol (docs/lock-protocol.md, O1–O2 and S1–S5): every one is
    /// observed now, `wait` lets one lease pass for all of them, and each is stolen only if its name and record did
    /// not change meanwhile (a live holder's heartbeat makes the steal refuse).
    mutating func freeDeadLocks(wait: (_ seconds: Double) -> Void) {
        var watched: [(dir: StorePath, finding: Int, record: OwnerRecord)] = []
        for d in deadLocks {
            let record = OwnerRecord(kind: .admin, node: options.by, session: "fsck", since: Date())
            do {
                _ = try store.take(dir: d.dir, record: record)
                try store.release(dir: d.dir, record: record)
                settle(d.finding, "freed: it came free while we looked", repaired: true)
            } catch is LockRefusal {
                watched.append((d.dir, d.finding, record))
            } catch {
                settle(d.finding, "not freed: \(error)", repaired: false)
            }
        }
        guard !watched.isEmpty else { return }
        wait(Double(store.lease.milliseconds) / 1000 + 0.1)
        for w in watched {
            do {
                _ = try store.take(dir: w.dir, record: w.record)
                try store.release(dir: w.dir, record: w.record)
                settle(w.finding, "freed through the steal path after one lease unchanged", repaired: true)
            } catch let refusal as LockRefusal {
                if case .adminLocked(let r) = refusal {
                    settle(w.finding, "not freed: the administrator (\(r.node)) locked it meanwhile", repaired: false)
                } else {
                    settle(w.finding, "not freed: its record changed while we watched (a live holder)", repaired: false)
                }
            } catch {
                settle(w.finding, "not freed: \(error)", repaired: false)
            }
        }
    }

    mutating func settle(_ finding: Int, _ action: String, repaired: Bool) {
        report.findings[finding].action = action
        report.findings[finding].repaired = repaired
    }

    // MARK: Messages

    /// Every message (`P3_<26 digits>.eml`, or `P3_<26 digits>.u<hex>.eml` when imported with its UIDL): a regular file
    /// that reads to its listed size. One that is not (a directory or a
    /// special file under a message's name, a read error, fewer or more bytes than listed) is quarantined by repair.
    mutating func checkMessages(_ a: MailboxAddress, dir: StorePath, entries: [DirectoryEntry]) {
        for e in entries.sorted(by: { $0.name < $1.name }) where MessageNamer.isMessageName(e.name) {
            report.messages += 1
            guard let problem = Self.messageProblem(volume, dir: dir, entry: e) else { continue }
            let i = add("\(a.domain)/P3_\(a.mailbox).mbx/\(e.name)", problem,
                        would: "--repair moves it to the mailbox's \(MailStore.quarantineName)/ folder under the mailbox's lock")
            badMessages[a, default: []].append((i, e.name))
        }
    }

    static func messageProblem(_ volume: any Volume, dir: StorePath, entry e: DirectoryEntry) -> String? {
        guard e.attributes.kind == .file else {
            return "message name on \(e.attributes.kind == .directory ? "a directory" : "a special file"), not a message file: it cannot be read"
        }
        do {
            let handle = try volume.openForReading(try dir.appending(e.name))
            defer { handle.close() }
            var total: Int64 = 0
            while true {
                let chunk = try handle.read(at: total, count: 256 * 1024)
                total += Int64(chunk.count)
                if chunk.count < 256 * 1024 || total > e.attributes.size { break }
            }
            if total != e.attributes.size {
                return "message reads \(total) bytes where its listing says \(e.attributes.size) (truncated or changed)"
            }
        } catch {
            return "message cannot be read (\(error))"
        }
        return nil
    }

    /// Moves each bad message into `<mailbox>/quarantine/`, holding the mailbox's lock as the administrator; a
    /// mailbox a session holds is skipped with a note (fsck --repair again later).
    mutating func quarantine() {
        for (a, bad) in badMessages.sorted(by: { "\($0.key)" < "\($1.key)" }) {
            let record = OwnerRecord(kind: .admin, node: options.by, session: "fsck", since: Date())
            guard let dir = try? store.mailboxDir(a) else { continue }
            do {
                _ = try store.take(dir: dir, record: record)
            } catch let refusal as LockRefusal {
                let note: String
                switch refusal {
                case .inUse(let r): note = "skipped: a session holds the mailbox (node \(r.node)); run fsck --repair again later"
                case .adminLocked(let r): note = "skipped: the administrator (\(r.node)) holds the mailbox's lock"
                }
                for b in bad { settle(b.finding, note, repaired: false) }
                continue
            } catch {
                for b in bad { settle(b.finding, "not quarantined: the lock could not be taken (\(error))", repaired: false) }
                continue
            }
            let folder = try? dir.appending(MailStore.quarantineName)
            for b in bad {
                do {
                    guard let folder else { throw StoreError(code: .invalidName, message: "quarantine") }
                    let path = try dir.appending(b.name)
                    // Under the lock, once more: a message that reads well now stays where it is.
                    if let entry = try volume.list(dir).first(where: { $0.name == b.name }),
                        Self.messageProblem(volume, dir: dir, entry: entry) == nil {
                        settle(b.finding, "left in place: it read well a second time, under the lock", repaired: true)
                        continue
                    }
                    guard try volume.exists(path) else {
                        settle(b.finding, "gone meanwhile", repaired: true)
                        continue
                    }
                    do { try volume.mkdir(folder) } catch let e as StoreError where e.code == .alreadyExists {}
                    var target = try folder.appending(b.name)
                    if try volume.exists(target) { target = try folder.appending("\(b.name).\(MailStore.nonce())") }
                    try volume.renameChecked(path, to: target)
                    try volume.fsyncDirectory(dir)
                    settle(b.finding, "moved to \(a.domain)/P3_\(a.mailbox).mbx/\(MailStore.quarantineName)/\(target.name ?? b.name)", repaired: true)
                } catch {
                    settle(b.finding, "not quarantined: \(error)", repaired: false)
                }
            }
            do { try store.release(dir: dir, record: record) } catch {
                for b in bad where report.findings[b.finding].repaired {
                    report.findings[b.finding].action += " (the fsck lock could not be given back: \(error); `poplar mailbox unlock \(a)` frees it)"
                }
            }
        }
    }
}
