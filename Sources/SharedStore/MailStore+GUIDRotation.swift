import Foundation

/// Rotating the cluster GUID without downtime (docs/security.md, "Rotating the GUID"):
/// 1. `poplar guid rotate` adds a new GUID to the GUID file (the store is not changed); the operator copies the
///    file to every node and coordinator and restarts them in turn.
/// 2. `poplar guid rotate --activate` (once every live node's registry record lists the new GUID's tag): the
///    cluster file names the new GUID as current and the old one as previous. Records keyed by either open; new
///    ones, and every record rehashed at a password login, are keyed by the new one.
/// 3. `poplar mailbox rekey --all` re-keys what needs no password (records that keep the sealed APOP secret).
/// 4. `poplar guid rotate --finish` drops the previous GUID (refused while records still need it, unless forced).
extension MailStore {
    public struct GUIDUsage: Sendable, Equatable {
        public var onCurrent = 0
        /// Keyed by another GUID, but re-keyable now (the sealed secret holds the password).
        public var rekeyable: [MailboxAddress] = []
        /// Keyed by another GUID: re-keyed only at the owner's next password login.
        public var needLogin: [MailboxAddress] = []
    }

    /// Every password record, by the GUID that keys it (external mailboxes have none).
    public func guidUsage() throws -> GUIDUsage {
        var usage = GUIDUsage()
        let current = guid
        for domain in try domains() {
            for address in try mailboxes(in: domain) {
                guard let record = try? passwordRecord(address) else { continue }
                if guid(for: record) == current { usage.onCurrent += 1 } else if record.allowsAPOP { usage.rekeyable.append(address) } else {
                    usage.needLogin.append(address)
                }
            }
        }
        return usage
    }

    /// Step 2: `new` (in this process's GUID file) becomes current, the current one previous.
    public func activateGUID(_ new: ClusterGUID) throws {
        try rewriteClusterFile { fields in
            guard fields["guid-previous-check"] == nil else {
                throw StoreError(code: .alreadyExists, message: "a GUID rotation is already under way: finish it first (`poplar guid rotate --finish`)")
            }
            guard fields["guid-check"] != new.checkValue else {
                throw StoreError(code: .alreadyExists, message: "that GUID is already the cluster's")
            }
            fields["guid-previous-check"] = fields["guid-check"]
            fields["guid-check"] = new.checkValue
        }
    }

    /// Step 4: the previous GUID is no longer accepted.
    public func finishGUIDRotation() throws {
        try rewriteClusterFile { fields in
            guard fields["guid-previous-check"] != nil else {
                throw StoreError(code: .notFound, message: "no GUID rotation is under way")
            }
            fields["guid-previous-check"] = nil
        }
    }

    /// Step 3 for one mailbox: a record keyed by the previous GUID that keeps the sealed secret is rehashed from it
    /// (compare and swap, as at a login). False when there was nothing to do or the record changed meanwhile.
    public func rekey(_ address: MailboxAddress) throws -> Bool {
        let record = try passwordRecord(address)
        guard let key = guid(for: record), key != guid, record.allowsAPOP,
            let secret = try PasswordHasher.openSecret(record: record, address: address, guid: key)
        else { return false }
        return try rehash(address, password: String(decoding: secret, as: UTF8.self), verified: record)
    }

    /// The cluster file read, changed by `change` on its key=value lines (order kept, new keys last), checked
    /// against this process's keyring and written back, under the metabase lease; then followed here (the GUIDs,
    /// the KDF rounds).
    func rewriteClusterFile(_ change: (inout [String: String]) throws -> Void) throws {
        try withMetabaseLease {
            let text = String(decoding: try volume.readAll(Self.clusterFile, limit: 64 * 1024), as: UTF8.self)
            var order: [String] = []
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                let key = String(line[..<eq])
                if fields[key] == nil { order.append(key) }
                fields[key] = String(line[line.index(after: eq)...])
            }
            try change(&fields)
            for key in fields.keys where !order.contains(key) { order.append(key) }
            let lines = order.compactMap { key in fields[key].map { "\(key)=\($0)" } }
            let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
            _ = try Self.decodeClusterFile(bytes, keyring: keyring)  // never write a file this process could not open
            try volume.writeAtomically(Self.clusterFile, bytes, staging: Self.metaTmp)
        }
        try refreshClusterInfo()
    }
}
