import Foundation
import SharedStore

/// (g) Every file format one process reads that another wrote on the shared store (docs/store-layout.md). A
/// corrupt, truncated or huge file must give an error or a safe value, and what the readers then do with the
/// value (display a date, compute a lease deadline, check a password) must not trap either.
///
/// Input: byte 0 chooses the format, the rest is the file (or, for listings, one name per line).
public enum FuzzStoreRecords {
    /// A fixed GUID (the cluster file's check value and the password records are keyed with it).
    static let guid = try! ClusterGUID(text: String(repeating: "5eed", count: 16))
    static let address = try! MailboxAddress(parsing: "alice@example.test")
    static let now = Date(timeIntervalSince1970: 1_780_000_000)

    public static func run(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let file = Array(data.dropFirst())
        switch selector % 13 {
        case 0: ownerRecord(file)
        case 1: nodeRecord(file)
        case 2: clusterFile(file)
        case 3: passwordRecord(file)
        case 4: metabase(file)
        case 5: quota(file)
        case 6: controlFolder(file)
        case 7: messageNames(file)
        case 8: incarnation(file)
        case 9: mailboxDirectories(file)
        case 10: guidFile(file)
        case 11: liveness(file)
        default: apiToken(file)
        }
    }

    /// The held lock's record (`kcol`, `kcol.<node>.<nonce>`, leases): the node shows `since` in `[IN-USE]`, the
    /// CLI in `poplar mailbox show`, the lease code compares holders.
    static func ownerRecord(_ file: [UInt8]) {
        guard let record = try? OwnerRecord(decoding: file) else { return }
        fuzzCheck(file.count <= OwnerRecord.maxSize, "an oversized owner record was read")
        _ = ISO8601DateFormatter().string(from: record.since)
        _ = "\(record.since)"
        fuzzCheck(record.isSameHolder(as: record), "a record is not its own holder")
        if let incarnation = record.incarnation {
            fuzzCheck(ProcessIncarnation(parsing: incarnation.description) == incarnation, "incarnation round trip")
        }
    }

    /// `.poplar/nodes/<node>`: `poplar cluster status` shows it, `forgetNode` waits by its interval.
    static func nodeRecord(_ file: [UInt8]) {
        guard let record = try? NodeRecord(decoding: file) else { return }
        fuzzCheck((100...3_600_000).contains(record.intervalMilliseconds), "interval \(record.intervalMilliseconds)")
        _ = record.isSilent(now: now)
        _ = 3 * Double(record.intervalMilliseconds) / 1000 + 0.5
        let formatter = ISO8601DateFormatter()
        for s in record.sessions { _ = formatter.string(from: s.since) }
        _ = formatter.string(from: record.started)
        _ = formatter.string(from: record.updated)
    }

    /// `.poplar/cluster`: format, id, GUID check, KDF rounds, the lock lease (every lock deadline is computed
    /// from it on a boot-time clock in nanoseconds).
    static func clusterFile(_ file: [UInt8]) {
        // The right check value first: a later line of the input may replace it (the wrong-GUID path).
        let bytes = Array("guid-check=\(guid.checkValue)\n".utf8) + file
        guard let info = try? MailStore.decodeClusterFile(bytes, guid: guid) else { return }
        fuzzCheck(info.format <= MailStore.formatVersion, "format \(info.format) accepted")
        let lease = info.lockLease
        fuzzCheck(lease.milliseconds >= LockLease.minimumMilliseconds, "lease below the minimum")
        // What HeldLock and the lock protocol compute: a deadline a window after a boot-time instant (a year of
        // uptime here), the heartbeat, the metabase wait.
        let uptime: UInt64 = 365 * 24 * 3600 * 1_000_000_000
        _ = uptime + lease.nanoseconds
        _ = uptime + lease.windowNanoseconds
        _ = uptime + lease.heartbeatNanoseconds
        _ = Double(lease.milliseconds) * 2 / 1000 + 1
    }

    /// A mailbox's `passwd`: the PHC string and the sealed APOP secret.
    static func passwordRecord(_ file: [UInt8]) {
        guard let record = try? PasswordRecord(decoding: file) else { return }
        _ = record.allowsAPOP
        if let parsed = PasswordHasher.parse(record.phc) {
            fuzzCheck(parsed.rounds > 0, "rounds \(parsed.rounds)")
            // Verification runs PBKDF2 with the record's rounds: only cheap records here.
            if parsed.rounds <= 4 { _ = PasswordHasher.verify(password: Array("secret".utf8), record: record, guid: guid) }
        }
        _ = try? PasswordHasher.openSecret(record: record, address: address, guid: guid)
    }

    /// `.poplar/domains`: a version and the accepted domains (the coordinator's RCPT check reads it).
    static func metabase(_ file: [UInt8]) {
        let (version, domains) = MailStore.decodeMetabase(file)
        _ = version
        fuzzCheck(domains == domains.sorted(), "domains not sorted")
        let accepted = Set(domains)
        for d in domains.prefix(64) {
            _ = accepted.contains(d.lowercased())
            _ = try? Names.validateDomain(d)
        }
    }

    /// A mailbox's `quota`: positive bytes or none; delivery adds sizes to the bytes in use and compares.
    static func quota(_ file: [UInt8]) {
        guard let q = MailStore.decodeQuota(Array(file.prefix(64))) else { return }
        fuzzCheck(q > 0, "quota \(q)")
        let used: Int64 = 1 << 40, size: Int64 = 64 << 20
        _ = used + size > q
    }

    /// `.poplar/control/<node>/`: `drain` and `kick.<session>` (names as listed).
    static func controlFolder(_ file: [UInt8]) {
        let names = fuzzLines(file).prefix(256).map { String(decoding: $0, as: UTF8.self) }
        let (drain, kicks) = MailStore.decodeControl(names: names)
        fuzzCheck(drain == names.contains("drain"), "drain")
        for k in kicks { _ = try? Names.validateSessionID(k) }
    }

    /// Names in a mailbox folder and lines of the deletion intent: only `P3_<26 digits>.eml` are messages.
    static func messageNames(_ file: [UInt8]) {
        for line in fuzzLines(file).prefix(256) {
            let name = String(decoding: line, as: UTF8.self)
            guard MessageNamer.isMessageName(name) else { continue }
            let uidl = MessageNamer.uidl(ofMessageName: name)
            fuzzCheck(uidl.utf8.count == 26 && uidl.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }, "UIDL \(uidl) of \(name)")
        }
    }

    /// `.poplar/live/<instance>` (the node rule): every node reads every instance's record at each beat and compares
    /// bytes; O2 decodes it for `proc=` and reads the instance out of a private lock name. A record decoded is
    /// whole: a valid instance id, and one that encodes again to a record of the same length.
    /// An API token record (`.poplar/tokens/<id>`) and presented tokens (one per line): what the console reads for
    /// every API request.
    static func apiToken(_ file: [UInt8]) {
        for line in String(decoding: file, as: UTF8.self).split(separator: "\n").prefix(16) {
            if let (id, secret) = APIToken.parse(String(line)) {
                fuzzCheck(id.utf8.count == 16 && secret.utf8.count == 43, "token parts of \(line)")
            }
        }
        guard let record = APIToken(id: "0123456789abcdef", decoding: file) else { return }
        fuzzCheck(file.count <= APIToken.maxRecordSize, "an oversized token record was read")
        _ = ISO8601DateFormatter().string(from: record.created)
        _ = record.expires.map { ISO8601DateFormatter().string(from: $0) }
        fuzzCheck(APIToken(id: record.id, decoding: record.encoded()) == record, "token record round trip")
    }

    static func liveness(_ file: [UInt8]) {
        let text = String(decoding: file, as: UTF8.self)
        for line in text.split(separator: "\n").prefix(16) {
            if let instance = MailStore.instance(ofPrivateName: String(line)) {
                fuzzCheck(instance.utf8.count == 16, "instance \(instance) of \(line)")
            }
        }
        guard let record = LivenessRecord(decoding: file) else { return }
        fuzzCheck(file.count <= LivenessRecord.maxSize, "an oversized liveness record was read")
        let again = record.encoded()
        fuzzCheck(LivenessRecord(decoding: again)?.beat == record.beat, "liveness round trip")
        var next = record
        next.beat = record.beat &+ 1
        fuzzCheck(next.encoded().count == again.count || record.beat == UInt64.max, "a rewrite in place changes the length")
    }

    /// The `proc=` field of a lease record.
    static func incarnation(_ file: [UInt8]) {
        let text = String(decoding: file, as: UTF8.self)
        guard let p = ProcessIncarnation(parsing: text) else { return }
        fuzzCheck(p.pid > 0, "pid \(p.pid)")
        fuzzCheck(ProcessIncarnation(parsing: p.description) == p, "incarnation round trip")
    }

    /// Folder names in a domain (`P3_<mailbox>.mbx`) and addresses as the CLI and the coordinator give them.
    static func mailboxDirectories(_ file: [UInt8]) {
        for line in fuzzLines(file).prefix(64) {
            let name = String(decoding: line, as: UTF8.self)
            if name.hasPrefix("P3_"), name.hasSuffix(".mbx"), let a = try? MailboxAddress(mailbox: String(name.dropFirst(3).dropLast(4)), domain: "example.test") {
                fuzzCheck((try? MailboxAddress(parsing: a.description)) == a, "address round trip \(a)")
            }
            if let a = try? MailboxAddress(parsing: name) {
                fuzzCheck((try? MailboxAddress(parsing: a.description)) == a, "address round trip \(a)")
            }
            _ = try? Names.validateNodeID(name)
        }
    }

    /// The GUID file (local, but written by `poplar init` on another machine and copied).
    static func guidFile(_ file: [UInt8]) {
        guard let g = try? ClusterGUID(text: String(decoding: file, as: UTF8.self)) else { return }
        fuzzCheck((try? ClusterGUID(text: g.text)) == g, "GUID round trip")
        _ = g.checkValue
    }
}
