import Foundation

/// A node as it publishes itself in `.poplar/nodes/<node>` (docs/store-layout.md): where it listens, its version,
/// whether it drains, and its sessions (each holds one mailbox). Rewritten atomically every few seconds; `updated`
/// is the node's wall clock, for display only.
public struct NodeRecord: Sendable, Equatable {
    public struct Session: Sendable, Equatable {
        public var mailbox: String
        public var session: String
        public var peer: String
        public var since: Date
        public init(mailbox: String, session: String, peer: String, since: Date) {
            self.mailbox = mailbox
            self.session = session
            self.peer = peer
            self.since = since
        }
    }

    /// 10,000 sessions of ~120 bytes.
    public static let maxSize = 2 << 20

    public var node: String
    public var address: String
    public var version: String
    public var pid: Int32
    public var started: Date
    public var updated: Date
    public var beat: UInt64
    public var draining: Bool
    public var sessions: [Session]
    /// How often the node rewrites this record, in milliseconds (a record without it: the default, 2 s).
    public var intervalMilliseconds: Int
    /// The tags of the GUIDs the node's GUID file holds: `poplar guid rotate --activate` waits until every live node
    /// knows the new one.
    public var keyTags: [String] = []
    /// The lock rules the node knows (`lease`, `node`): `poplar cluster lock-rule node` waits until every live node
    /// knows the node rule. A node of an earlier version writes none.
    public var lockRules: [String] = []
    /// What a node of this version writes.
    public static let knownLockRules = LockRule.allCases.map(\.rawValue)

    public init(node: String, address: String, version: String, pid: Int32, started: Date, updated: Date, beat: UInt64,
                draining: Bool, sessions: [Session], intervalMilliseconds: Int = 2000, keyTags: [String] = [], lockRules: [String] = []) {
        self.lockRules = lockRules
        self.keyTags = keyTags
        self.node = node
        self.address = address
        self.version = version
        self.pid = pid
        self.started = started
        self.updated = updated
        self.beat = beat
        self.draining = draining
        self.sessions = sessions
        self.intervalMilliseconds = intervalMilliseconds
    }

    /// No update by the wall clocks (ours against the node's) for more than three of its intervals: likely dead.
    /// For display; `MailStore.forgetNode` decides by watching the record itself.
    public func isSilent(now: Date = Date()) -> Bool {
        now.timeIntervalSince(updated) > 3 * Double(intervalMilliseconds) / 1000
    }

    static func ms(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ s: Substring?) -> Date? { s.flatMap { Int64($0) }.map { Date(timeIntervalSince1970: Double($0) / 1000) } }
    static func clean(_ s: String) -> String { String(s.unicodeScalars.filter { $0.value > 0x20 && $0 != "=" }.prefix(200).map(Character.init)) }

    public func encoded() -> [UInt8] {
        var text = "node=\(Self.clean(node))\naddress=\(Self.clean(address))\nversion=\(Self.clean(version))\npid=\(pid)\n"
        text += "started=\(Self.ms(started))\nupdated=\(Self.ms(updated))\nbeat=\(beat)\ndraining=\(draining ? 1 : 0)\n"
        text += "interval-ms=\(intervalMilliseconds)\n"
        if !keyTags.isEmpty { text += "keys=\(keyTags.map(Self.clean).joined(separator: ","))\n" }
        if !lockRules.isEmpty { text += "lock-rules=\(lockRules.map(Self.clean).joined(separator: ","))\n" }
        for s in sessions {
            text += "session=\(Self.clean(s.session)) \(Self.clean(s.mailbox)) \(Self.clean(s.peer)) \(Self.ms(s.since))\n"
        }
        return Array(text.utf8)
    }

    public init(decoding bytes: [UInt8]) throws {
        var fields: [Substring: Substring] = [:]
        var sessions: [Session] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq], value = line[line.index(after: eq)...]
            if key == "session" {
                let parts = value.split(separator: " ")
                guard parts.count == 4, let since = Self.date(parts[3]) else { continue }
                sessions.append(Session(mailbox: String(parts[1]), session: String(parts[0]), peer: String(parts[2]), since: since))
            } else {
                fields[key] = value
            }
        }
        guard let node = fields["node"], let started = Self.date(fields["started"]), let updated = Self.date(fields["updated"]) else {
            throw StoreError(code: .corrupt, message: "node record is incomplete")
        }
        self.init(node: String(node), address: String(fields["address"] ?? ""), version: String(fields["version"] ?? ""),
                  pid: fields["pid"].flatMap { Int32($0) } ?? 0, started: started, updated: updated,
                  beat: fields["beat"].flatMap { UInt64($0) } ?? 0, draining: fields["draining"] == "1", sessions: sessions,
                  intervalMilliseconds: fields["interval-ms"].flatMap { Int($0) }.map { min(max($0, 100), 3_600_000) } ?? 2000,
                  keyTags: fields["keys"].map { $0.split(separator: ",").prefix(ClusterKeyring.maxGUIDs).map(String.init) } ?? [],
                  lockRules: fields["lock-rules"].map { $0.split(separator: ",").prefix(8).map(String.init) } ?? [])
    }
}

/// The node registry and the control files an operator leaves for a node (`poplar node drain`, `poplar cluster
/// kick`): `.poplar/control/<node>/drain` and `.poplar/control/<node>/kick.<session>`. A node reads its control
/// folder each time it publishes itself.
extension MailStore {
    static let nodesDir = try! StorePath([".poplar", "nodes"])
    static let controlDir = try! StorePath([".poplar", "control"])

    private func ensureDirectory(_ path: StorePath) throws {
        do { try volume.mkdir(path) } catch let e as StoreError where e.code == .alreadyExists {}
    }

    public func publishNode(_ record: NodeRecord) throws {
        let path = try Self.nodesDir.appending(Names.validateNodeID(record.node))
        do {
            try volume.writeAtomically(path, record.encoded(), staging: Self.metaTmp)
        } catch let e as StoreError where e.code == .notFound {
            try ensureDirectory(Self.nodesDir)  // the first node of a new store
            try volume.writeAtomically(path, record.encoded(), staging: Self.metaTmp)
        }
    }

    public func removeNode(_ node: String) throws {
        try volume.unlinkChecked(try Self.nodesDir.appending(Names.validateNodeID(node)))
    }

    /// Every published node, by name. A record that cannot be read is skipped (being replaced right now).
    public func nodes() throws -> [NodeRecord] {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.nodesDir) } catch let e as StoreError where e.code == .notFound { return [] }
        return entries.filter { $0.attributes.kind == .file && !$0.name.hasPrefix(".") }.sorted { $0.name < $1.name }.compactMap {
            try? NodeRecord(decoding: try volume.readAll(try Self.nodesDir.appending($0.name), limit: NodeRecord.maxSize))
        }
    }

    /// `poplar cluster forget`: removes the record (and control folder) of a node that died without removing it.
    /// It reads the record, calls `wait` for three of the node's update intervals, and removes it only if the record
    /// did not change meanwhile; a live node's update makes it refuse with `inUse`. False if there was no record.
    public func forgetNode(_ node: String, wait: (_ seconds: Double) -> Void) throws -> Bool {
        let path = try Self.nodesDir.appending(Names.validateNodeID(node))
        func read() throws -> [UInt8]? {
            do { return try volume.readAll(path, limit: NodeRecord.maxSize) } catch let e as StoreError where e.code == .notFound { return nil }
        }
        guard let first = try read() else { return false }
        let interval = (try? NodeRecord(decoding: first))?.intervalMilliseconds ?? 2000
        wait(3 * Double(interval) / 1000 + 0.5)
        guard let second = try read() else { return true }  // removed meanwhile (the node stopped cleanly)
        guard second == first else {
            throw StoreError(code: .inUse, message: "node \(node) is alive: it updated its record while we watched")
        }
        try removeNode(node)
        do { try volume.removeTree(try controlFolder(node)) } catch let e as StoreError where e.code == .notFound {}
        return true
    }

    private func controlFolder(_ node: String) throws -> StorePath {
        try Self.controlDir.appending(Names.validateNodeID(node))
    }

    private func leaveControlFile(_ node: String, _ name: String) throws {
        try ensureDirectory(Self.controlDir)
        let folder = try controlFolder(node)
        try ensureDirectory(folder)
        do {
            try volume.writeFile(try folder.appending(name), [], exclusive: true)
        } catch let e as StoreError where e.code == .alreadyExists {}
    }

    public func requestDrain(node: String) throws { try leaveControlFile(node, "drain") }

    public func requestKick(node: String, session: String) throws {
        try leaveControlFile(node, "kick." + Names.validateSessionID(session))
    }

    /// What the operator asked of `node`: drain, and the sessions to end.
    public func pendingControl(node: String) throws -> (drain: Bool, kicks: [String]) {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(try controlFolder(node)) } catch let e as StoreError where e.code == .notFound { return (false, []) }
        return Self.decodeControl(names: entries.map(\.name))
    }

    /// A control folder's file names: `drain`, and `kick.<session>` per session to end. Pure, for the fuzz targets.
    public static func decodeControl(names: [String]) -> (drain: Bool, kicks: [String]) {
        (names.contains("drain"), names.filter { $0.hasPrefix("kick.") }.map { String($0.dropFirst(5)) })
    }

    public func clearKick(node: String, session: String) throws {
        try volume.unlinkChecked(try controlFolder(node).appending("kick." + Names.validateSessionID(session)))
    }

    /// A node that starts clears a drain request left from before (it was drained, and now it is started again).
    public func clearDrain(node: String) throws {
        try volume.unlinkChecked(try controlFolder(node).appending("drain"))
    }
}
