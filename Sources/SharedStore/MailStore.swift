import Foundation
import Synchronization

public struct ClusterInfo: Sendable {
    public var format: Int
    public var id: String
    public var kdfRounds: Int
    /// The mailbox lock's lease, one value for the whole cluster (`lock-lease-ms` in `.poplar/cluster`).
    public var lockLease: LockLease
    /// `lock-rule` in `.poplar/cluster` (absent: `lease`).
    public var lockRule: LockRule = .lease
}

public struct MessageInfo: Sendable, Equatable {
    public var uidl: String
    public var size: Int64
    public var fileName: String
    public init(uidl: String, size: Int64, fileName: String) {
        self.uidl = uidl
        self.size = size
        self.fileName = fileName
    }
}

public struct MailboxInfo: Sendable {
    public var address: MailboxAddress
    public var messageCount: Int
    public var totalBytes: Int64
    public var quota: Int64?
    public var lock: LockState
    public var allowsAPOP: Bool
    /// False for an external mailbox (its account lives in a directory).
    public var hasPassword: Bool
}

/// A mail root opened with the cluster GUID: the Mail Storage Access API used by the node, the delivery and the
/// admin CLI. Every method blocks (call it from a thread pool).
public final class MailStore: Sendable {
    public static let formatVersion = 1
    static let maxSmallFile = 1 << 20

    public let volume: any Volume
    /// The GUID that keys new records: the one the cluster file names (`guid-check`), from this process's keyring.
    public var guid: ClusterGUID { keys.withLock { $0.current } }
    /// During a GUID rotation, the one before it (`guid-previous-check`): records keyed by it still open.
    public var previousGUID: ClusterGUID? { keys.withLock { $0.previous } }
    public let keyring: ClusterKeyring
    let keys: Mutex<(current: ClusterGUID, previous: ClusterGUID?)>
    public let info: ClusterInfo
    /// A namer given by the caller (tests); otherwise one is made on first delivery with a claimed slot.
    private let injectedNamer: MessageNamer?
    /// `currentKDFRounds`: the cluster file's rounds as last read (`refreshClusterInfo`, `setKDFRounds`).
    let kdfRounds: Mutex<Int>
    /// The lease clock of this process (injected by tests) and what it has seen of locks it could not take.
    let clock: any LeaseClock
    let observer = LockObserver()
    /// The node rule: what this process has seen of node instances' liveness records, and the instance its own
    /// sessions belong to (a node attaches one; the CLI and the coordinator have none).
    let livenessWatch = LivenessWatch()
    let livenessBox = Mutex<NodeLiveness?>(nil)
    /// The cluster's lock rule as last read (`refreshClusterInfo`).
    let lockRuleBox: Mutex<LockRule>
    public var lease: LockLease { info.lockLease }
    private let claimedNamer = Mutex<(namer: MessageNamer, slotFile: StorePath)?>(nil)

    // MARK: Layout

    static let metaDir = try! StorePath([".poplar"])
    static let clusterFile = try! StorePath([".poplar", "cluster"])
    static let metabaseFile = try! StorePath([".poplar", "domains"])
    static let metaTmp = try! StorePath([".poplar", "tmp"])
    /// One file per delivering process: the 5-digit slot of its message names (docs/store-layout.md).
    static let slotsDir = try! StorePath([".poplar", "slots"])
    static let lockName = "lock"
    static let heldName = "kcol"

    func domainDir(_ domain: String) throws -> StorePath { try StorePath([domain]) }
    func mailboxDir(_ a: MailboxAddress) throws -> StorePath { try StorePath([a.domain, "P3_\(a.mailbox).mbx"]) }

    private init(volume: any Volume, keyring: ClusterKeyring, current: ClusterGUID, previous: ClusterGUID?, info: ClusterInfo,
                 namer: MessageNamer?, clock: any LeaseClock) {
        self.volume = volume
        self.keyring = keyring
        self.keys = Mutex((current, previous))
        self.info = info
        self.kdfRounds = Mutex(info.kdfRounds)
        self.lockRuleBox = Mutex(info.lockRule)
        self.injectedNamer = namer
        self.clock = clock
    }

    deinit {
        releaseDeliverySlot()
    }

    /// Gives the delivery slot back (at shutdown). Deliveries after this claim a new one.
    public func releaseDeliverySlot() {
        if let claim = claimedNamer.withLock({ c -> (namer: MessageNamer, slotFile: StorePath)? in
            defer { c = nil }
            return c
        }) {
            try? volume.unlink(claim.slotFile)
        }
    }

    /// The namer of this process's deliveries. Its 5-digit slot is claimed in `.poplar/slots/` with an exclusive
    /// create, so no two live processes share a slot and message names are unique in the whole mail root; the
    /// slot file is removed when the store is closed (a crashed process leaves one file behind, never reused).
    public func messageNamer() throws -> MessageNamer {
        if let injectedNamer { return injectedNamer }
        return try claimedNamer.withLock { claim in
            if let claim { return claim.namer }
            do { try volume.mkdir(Self.slotsDir) } catch let e as StoreError where e.code == .alreadyExists {}
            let record = Array("pid=\(getpid())\nhost=\(ProcessInfo.processInfo.hostName)\nsince=\(ISO8601DateFormatter().string(from: Date()))\n".utf8)
            for _ in 0..<64 {
                let slot = Int.random(in: 0...99_999)
                let file = try Self.slotsDir.appending(MessageNamer.pad(slot, 5))
                do {
                    try volume.writeFile(file, record, exclusive: true)
                } catch let e as StoreError where e.code == .alreadyExists {
                    continue
                }
                let namer = MessageNamer(slot: slot)
                claim = (namer, file)
                return namer
            }
            throw StoreError(code: .io, message: "no free delivery slot in .poplar/slots after 64 tries")
        }
    }

    /// `poplar init`: the cluster file with the GUID's check value, an empty metabase.
    public static func initialize(volume: any Volume, guid: ClusterGUID, kdfRounds: Int = PasswordHasher.defaultRounds,
                                  lockLease: LockLease = LockLease(), lockRule: LockRule = .lease, namer: MessageNamer? = nil,
                                  clock: any LeaseClock = BootTimeClock()) throws -> MailStore {
        if try volume.exists(clusterFile) {
            throw StoreError(code: .alreadyExists, message: "this mail root is already initialised")
        }
        for dir in [metaDir, metaTmp, slotsDir] {
            do { try volume.mkdir(dir) } catch let e as StoreError where e.code == .alreadyExists {}
        }
        let info = ClusterInfo(format: formatVersion, id: UUID().uuidString.lowercased(), kdfRounds: max(1, kdfRounds), lockLease: lockLease,
                               lockRule: lockRule)
        try volume.writeAtomically(metabaseFile, Array("version=1\n".utf8), staging: metaTmp)
        let text = "format=\(info.format)\nid=\(info.id)\nguid-check=\(guid.checkValue)\nkdf-rounds=\(info.kdfRounds)\nlock-lease-ms=\(info.lockLease.milliseconds)\nlock-rule=\(info.lockRule.rawValue)\n"
        // Written last: a root is initialised once its cluster file exists.
        try volume.writeAtomically(clusterFile, Array(text.utf8), staging: metaTmp)
        return MailStore(volume: volume, keyring: ClusterKeyring([guid]), current: guid, previous: nil, info: info, namer: namer, clock: clock)
    }

    public static func open(volume: any Volume, guid: ClusterGUID, namer: MessageNamer? = nil,
                            clock: any LeaseClock = BootTimeClock()) throws -> MailStore {
        try open(volume: volume, keyring: ClusterKeyring([guid]), namer: namer, clock: clock)
    }

    /// Opens the root with every GUID of the GUID file: the cluster file says which keys new records.
    public static func open(volume: any Volume, keyring: ClusterKeyring, namer: MessageNamer? = nil,
                            clock: any LeaseClock = BootTimeClock()) throws -> MailStore {
        let bytes: [UInt8]
        do {
            bytes = try volume.readAll(clusterFile, limit: 64 * 1024)
        } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notInitialized, message: "no Poplar mail root here (no .poplar/cluster): run `poplar init`")
        }
        let (info, current, previous) = try decodeClusterFile(bytes, keyring: keyring)
        return MailStore(volume: volume, keyring: keyring, current: current, previous: previous, info: info, namer: namer, clock: clock)
    }

    /// `.poplar/cluster` as `open` reads it: pure, so the fuzz targets reach it (Tests/Fuzz).
    public static func decodeClusterFile(_ bytes: [UInt8], guid: ClusterGUID) throws -> ClusterInfo {
        try decodeClusterFile(bytes, keyring: ClusterKeyring([guid])).info
    }

    /// The cluster file with a keyring: the current GUID (`guid-check`) must be in it, and during a rotation the
    /// previous one (`guid-previous-check`) too, or records keyed by it could not be opened here.
    public static func decodeClusterFile(_ bytes: [UInt8], keyring: ClusterKeyring) throws
        -> (info: ClusterInfo, current: ClusterGUID, previous: ClusterGUID?)
    {
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            if let eq = line.firstIndex(of: "=") { fields[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
        }
        guard let format = fields["format"].flatMap(Int.init), let id = fields["id"], let check = fields["guid-check"] else {
            throw StoreError(code: .corrupt, message: ".poplar/cluster is damaged")
        }
        guard format <= formatVersion else {
            throw StoreError(code: .corrupt, message: "this mail root has format \(format); this poplar understands up to \(formatVersion): upgrade poplar")
        }
        guard let current = keyring.guid(check: check) else {
            throw StoreError(code: .wrongGUID, message: "the cluster GUID does not match this mail root's check value: every node and coordinator of a cluster needs the GUID file made by `poplar init` for this root (after `poplar guid rotate`, the new GUID file)")
        }
        var previous: ClusterGUID?
        if let previousCheck = fields["guid-previous-check"] {
            guard let found = keyring.guid(check: previousCheck) else {
                throw StoreError(code: .wrongGUID, message: "a GUID rotation is under way and this GUID file lacks the previous GUID: copy the GUID file that `poplar guid rotate` wrote (it holds both) to this host")
            }
            previous = found
        }
        let info = ClusterInfo(format: format, id: id, kdfRounds: fields["kdf-rounds"].flatMap(Int.init) ?? PasswordHasher.defaultRounds,
                               lockLease: LockLease(milliseconds: fields["lock-lease-ms"].flatMap(Int.init) ?? LockLease.defaultMilliseconds),
                               lockRule: fields["lock-rule"].flatMap(LockRule.init(rawValue:)) ?? .lease)
        return (info, current, previous)
    }

    /// Whether the store answers (a readiness check): a stat of the cluster file.
    public func checkReachable() throws {
        _ = try volume.stat(Self.clusterFile)
    }

    // MARK: Metabase

    private func readMetabase() throws -> Metabase {
        Self.decodeMetabaseFile(try volume.readAll(Self.metabaseFile, limit: Self.maxSmallFile))
    }

    /// The metabase: its version, and each accepted domain with its policy.
    struct Metabase {
        var version: Int
        var policies: [String: DomainPolicy]
        var domains: [String] { policies.keys.sorted() }
    }

    /// The metabase file (`version=<n>` and one accepted domain a line, optionally followed by its policy
    /// settings): pure, for the fuzz targets (Tests/Fuzz).
    public static func decodeMetabase(_ bytes: [UInt8]) -> (version: Int, domains: [String]) {
        let metabase = decodeMetabaseFile(bytes)
        return (metabase.version, metabase.domains)
    }

    static func decodeMetabaseFile(_ bytes: [UInt8]) -> Metabase {
        let text = String(decoding: bytes, as: UTF8.self)
        var metabase = Metabase(version: 0, policies: [:])
        for line in text.split(separator: "\n") {
            if line.hasPrefix("version=") {
                metabase.version = Int(line.dropFirst(8)) ?? 0
                continue
            }
            let fields = line.split(separator: " ")
            guard let domain = fields.first else { continue }
            metabase.policies[String(domain)] = DomainPolicy(settings: fields.dropFirst())
        }
        return metabase
    }

    /// One domain's line changed under the metabase lease (read, change, write whole, version + 1): `change` gets
    /// its policy (nil: not accepted) and leaves the new one (nil: removed).
    private func changeDomain(_ d: String, mustExist: Bool, _ change: (inout DomainPolicy?) throws -> Void) throws {
        try withMetabaseLease {
            var metabase = try readMetabase()
            switch (metabase.policies[d] != nil, mustExist) {
            case (false, true): throw StoreError(code: .notFound, message: "domain \(d) is not in the metabase")
            case (true, false): throw StoreError(code: .alreadyExists, message: "domain \(d) is already accepted")
            default: break
            }
            var policy = metabase.policies[d]
            try change(&policy)
            metabase.policies[d] = policy
            metabase.version += 1
            try writeMetabase(metabase)
        }
    }

    /// Only under the metabase lease (`withMetabaseLease`): the file is read, changed and written whole.
    private func writeMetabase(_ metabase: Metabase) throws {
        let lines = metabase.domains.map { domain -> String in
            let settings = metabase.policies[domain]?.settings ?? ""
            return settings.isEmpty ? domain : domain + " " + settings
        }
        let text = "version=\(metabase.version)\n" + lines.map { $0 + "\n" }.joined()
        acceptedDomains.withLock { $0 = nil }
        try volume.writeAtomically(Self.metabaseFile, Array(text.utf8), staging: Self.metaTmp)
    }

    public func metabaseVersion() throws -> Int { try readMetabase().version }
    public func domains() throws -> [String] { try readMetabase().domains }

    /// How long a domain found in the metabase stays accepted without reading it again. Only "accepted" is kept:
    /// a domain not in it is read again every time, so an added domain is followed at once and a removed one within
    /// this time, and a login or a recipient in an accepted domain costs no store call in between.
    public static let acceptedDomainCacheNanoseconds: UInt64 = 1_000_000_000
    private let acceptedDomains = Mutex<(policies: [String: DomainPolicy], readAt: UInt64)?>(nil)

    public func isDomainAccepted(_ domain: String) throws -> Bool {
        try domainPolicy(domain) != nil
    }

    /// The policy of an accepted domain (nil: not accepted), from the metabase read at most once a second while the
    /// domain stays accepted (`acceptedDomainCacheNanoseconds`).
    public func domainPolicy(_ domain: String) throws -> DomainPolicy? {
        let d = domain.lowercased()
        if let policy = try domainPolicies(readingAgainIfAbsent: d)[d] { return policy }
        return nil
    }

    /// Every accepted domain's policy, from the same once-a-second read: for CAPA's summary and the CLI.
    public func domainPolicies() throws -> [String: DomainPolicy] {
        try domainPolicies(readingAgainIfAbsent: nil)
    }

    /// The cached policies while fresh and holding `domain`; else the metabase read again (a domain not in it is
    /// never answered from the cache, so an added domain is followed at once).
    private func domainPolicies(readingAgainIfAbsent domain: String?) throws -> [String: DomainPolicy] {
        let now = clock.now()
        if let cached = acceptedDomains.withLock({ $0 }), now < cached.readAt + Self.acceptedDomainCacheNanoseconds,
            domain.map({ cached.policies[$0] != nil }) ?? true {
            return cached.policies
        }
        let policies = try readMetabase().policies
        acceptedDomains.withLock { $0 = (policies, now) }
        return policies
    }

    public func addDomain(_ domain: String) throws {
        let d = try Names.validateDomain(domain)
        try changeDomain(d, mustExist: false) { policy in
            do { try volume.mkdir(try domainDir(d)) } catch let e as StoreError where e.code == .alreadyExists {}
            policy = DomainPolicy.none
        }
    }

    /// `poplar domain policy`: sets a domain's LOGIN-DELAY and EXPIRE.
    public func setDomainPolicy(_ domain: String, _ policy: DomainPolicy) throws {
        try changeDomain(try Names.validateDomain(domain), mustExist: true) { $0 = policy }
    }

    /// `purge`: the domain's mailboxes and mail go too, but only when no session holds any of them (refused with
    /// the holder, nothing changed): each is held by the administrator first, then the domain leaves the metabase
    /// (deliveries are refused from then on), then its tree is removed.
    public func removeDomain(_ domain: String, purge: Bool) throws {
        let d = try Names.validateDomain(domain)
        guard purge else {
            try changeDomain(d, mustExist: true) { $0 = nil }
            return
        }
        guard try domainPolicies()[d] != nil else { throw StoreError(code: .notFound, message: "domain \(d) is not in the metabase") }
        let held = try holdEveryMailbox(try mailboxes(in: d), by: "admin-purge")
        do {
            try changeDomain(d, mustExist: true) { $0 = nil }
        } catch {
            for h in held { try? adminUnlock(h) }
            throw error
        }
        do { try volume.removeTree(try domainDir(d)) } catch let e as StoreError where e.code == .notFound {}
    }

    // MARK: Mailboxes

    /// `password` nil: an external mailbox, whose account lives in a directory (`auth.backend` ldap or pam): no
    /// password record, so the password file never accepts a login into it.
    public func createMailbox(_ address: MailboxAddress, password: String?, allowAPOP: Bool, quota: Int64?) throws {
        guard try isDomainAccepted(address.domain) else {
            throw StoreError(code: .notFound, message: "domain \(address.domain) is not in the metabase (`poplar domain add`)")
        }
        let dir = try mailboxDir(address)
        do {
            try volume.mkdir(dir)
        } catch let e as StoreError where e.code == .alreadyExists {
            throw StoreError(code: .alreadyExists, message: "mailbox \(address) already exists")
        } catch let e as StoreError where e.code == .notFound {
            // The domain's directory is not there yet: made here, by whichever writer comes first (several may
            // find it missing at once: another's mkdir is as good as ours).
            do { try volume.mkdir(try domainDir(address.domain)) } catch let e as StoreError where e.code == .alreadyExists {}
            do {
                try volume.mkdir(dir)
            } catch let e as StoreError where e.code == .alreadyExists {
                throw StoreError(code: .alreadyExists, message: "mailbox \(address) already exists")
            }
        }
        try volume.mkdir(try dir.appending("tmp"))
        if let password {
            let record = try PasswordHasher.makeRecord(password: password, address: address, guid: guid, rounds: currentKDFRounds, allowAPOP: allowAPOP)
            try volume.writeFile(try dir.appending("passwd"), record.encoded(), exclusive: true)
            try writeSCRAM(address, password: password, record: record)
        } else {
            try volume.writeFile(try dir.appending(Self.externalMarker), Array("account=directory\n".utf8), exclusive: true)
        }
        if let quota, quota > 0 { try volume.writeFile(try dir.appending("quota"), Array("\(quota)\n".utf8), exclusive: true) }
        // The mailbox exists once its lock file exists.
        try volume.writeFile(try dir.appending(Self.lockName), [], exclusive: true)
        try volume.fsyncDirectory(dir)
        try volume.fsyncDirectory(try domainDir(address.domain))
    }

    public func removeMailbox(_ address: MailboxAddress) throws {
        let dir = try mailboxDir(address)
        guard try volume.exists(dir) else { throw StoreError(code: .notFound, message: "no mailbox \(address)") }
        // Hold it as the administrator first, so no session can be in it while it goes.
        do {
            try adminLock(address, by: "admin-remove")
        } catch let refusal as LockRefusal {
            if case .inUse = refusal { throw refusal }
        }
        try volume.removeTree(dir)
    }

    public func mailboxes(in domain: String) throws -> [MailboxAddress] {
        let d = try Names.validateDomain(domain)
        let entries: [DirectoryEntry]
        do { entries = try volume.list(try domainDir(d)) } catch let e as StoreError where e.code == .notFound { return [] }
        return entries.compactMap { e -> MailboxAddress? in
            guard e.attributes.kind == .directory, e.name.hasPrefix("P3_"), e.name.hasSuffix(".mbx") else { return nil }
            return try? MailboxAddress(mailbox: String(e.name.dropFirst(3).dropLast(4)), domain: d)
        }.sorted { $0.mailbox < $1.mailbox }
    }

    /// The file that marks a mailbox whose account lives in a directory (`--external`): it has no `passwd`.
    static let externalMarker = "external"

    /// A mailbox whose account lives in a directory (made with `--external` or by `auth.autocreate`).
    public func isExternalMailbox(_ address: MailboxAddress) throws -> Bool {
        try volume.exists(try mailboxDir(address).appending(Self.externalMarker))
    }

    public func mailboxExists(_ address: MailboxAddress) throws -> Bool {
        try mailboxPresent(try mailboxDir(address))
    }

    /// A mailbox is there when its password record is, or the marker of an external one (one stat for the usual
    /// mailbox; the lock's names move, so they mark nothing).
    func mailboxPresent(_ dir: StorePath) throws -> Bool {
        try volume.exists(try dir.appending("passwd")) || volume.exists(try dir.appending(Self.externalMarker))
    }

    public func mailboxInfo(_ address: MailboxAddress) throws -> MailboxInfo {
        let dir = try mailboxDir(address)
        let entries: [DirectoryEntry]
        do { entries = try volume.list(dir) } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notFound, message: "no mailbox \(address)")
        }
        let messages = Self.messages(in: entries)
        return MailboxInfo(
            address: address,
            messageCount: messages.count,
            totalBytes: messages.reduce(0) { $0 + $1.size },
            quota: try quota(dir),
            lock: try lockState(dir: dir, entries: entries),
            allowsAPOP: (try? passwordRecord(address).allowsAPOP) ?? false,
            hasPassword: entries.contains { $0.name == "passwd" }
        )
    }

    public func setPassword(_ address: MailboxAddress, password: String, allowAPOP: Bool) throws {
        let dir = try mailboxDir(address)
        guard try !volume.exists(try dir.appending(Self.externalMarker)) else {
            throw StoreError(code: .invalidName, message: "\(address) is an external mailbox: its password is the directory's (LDAP or PAM)")
        }
        guard try volume.exists(try dir.appending("passwd")) else { throw StoreError(code: .notFound, message: "no mailbox \(address)") }
        let record = try PasswordHasher.makeRecord(password: password, address: address, guid: guid, rounds: currentKDFRounds, allowAPOP: allowAPOP)
        try volume.writeAtomically(try dir.appending("passwd"), record.encoded(), staging: try dir.appending("tmp"))
        // The old keys no longer open (they are bound to the old record); the new ones follow.
        try writeSCRAM(address, password: password, record: record)
    }

    public func setQuota(_ address: MailboxAddress, _ quota: Int64?) throws {
        let dir = try mailboxDir(address)
        guard try mailboxExists(address) else { throw StoreError(code: .notFound, message: "no mailbox \(address)") }
        let path = try dir.appending("quota")
        if let quota, quota > 0 {
            try volume.writeAtomically(path, Array("\(quota)\n".utf8), staging: try dir.appending("tmp"))
        } else {
            do { try volume.unlink(path) } catch let e as StoreError where e.code == .notFound {}
        }
    }

    public func passwordRecord(_ address: MailboxAddress) throws -> PasswordRecord {
        let path = try mailboxDir(address).appending("passwd")
        do {
            return try PasswordRecord(decoding: try volume.readAll(path, limit: 64 * 1024))
        } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notFound, message: "no mailbox \(address)")
        }
    }

    /// Deletes every message; refused while a session holds the mailbox.
    public func purge(_ address: MailboxAddress) throws -> Int {
        let dir = try mailboxDir(address)
        var tookLock = false
        switch try lockState(address) {
        case .admin: break
        case .session(let r): throw LockRefusal.inUse(r)
        case .claiming(let r): throw LockRefusal.inUse(r ?? OwnerRecord.unknownHolder())
        case .free, .missing:
            try adminLock(address, by: "admin-purge")
            tookLock = true
        }
        defer { if tookLock { try? adminUnlock(address) } }
        let messages = Self.messages(in: try volume.list(dir))
        for m in messages {
            try volume.unlinkChecked(try dir.appending(m.fileName))
        }
        try volume.fsyncDirectory(dir)
        return messages.count
    }

    /// The quota and, only when there is one, the bytes in use (one listing): what delivery needs to decide.
    public func quotaUsage(_ address: MailboxAddress) throws -> (quota: Int64, used: Int64)? {
        let dir = try mailboxDir(address)
        guard let quota = try quota(dir) else { return nil }
        let used = Self.messages(in: try volume.list(dir)).reduce(Int64(0)) { $0 + $1.size }
        return (quota, used)
    }

    func quota(_ dir: StorePath) throws -> Int64? {
        do {
            return Self.decodeQuota(try volume.readAll(try dir.appending("quota"), limit: 64))
        } catch let e as StoreError where e.code == .notFound {
            return nil
        }
    }

    /// A quota file: a positive byte count, anything else is no quota. Pure, for the fuzz targets (Tests/Fuzz).
    public static func decodeQuota(_ bytes: [UInt8]) -> Int64? {
        let text = String(decoding: bytes, as: UTF8.self)
        let q = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return q > 0 ? q : nil
    }

    /// The messages of a listing, oldest first: only `P3_<26 digits>.eml` and `P3_<26 digits>.u<hex>.eml` files,
    /// in the order of their digits (arrival), never of their UIDLs (a kept UIDL says nothing of order).
    static func messages(in entries: [DirectoryEntry]) -> [MessageInfo] {
        entries.compactMap { e -> MessageInfo? in
            guard e.attributes.kind == .file, MessageNamer.isMessageName(e.name) else { return nil }
            return MessageInfo(uidl: MessageNamer.uidl(ofMessageName: e.name), size: e.attributes.size, fileName: e.name)
        }.sorted { $0.fileName < $1.fileName }  // message names are ASCII: String's memcmp order is their bytes' order
    }
}
