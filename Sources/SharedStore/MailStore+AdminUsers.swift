import Foundation

/// The console's administrators (`poplar admin-user`), one file each in `.poplar/admins/<name>`: a password record
/// (`PasswordRecord`, GUID-keyed like a mailbox's) and nothing else. In the store, so every console instance of the
/// cluster knows the same administrators (docs/store-layout.md).
extension MailStore {
    static let adminsDir = try! StorePath([".poplar", "admins"])
    /// An administrator's name: 1 to this many of a-z, 0-9, `.`, `_` and `-`.
    public static let maxAdminNameLength = 64

    /// The name lowercased, or `invalidName`.
    public static func validateAdminName(_ text: String) throws -> String {
        let name = text.lowercased()
        guard (1...maxAdminNameLength).contains(name.utf8.count),
            name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }),
            !name.hasPrefix(".")
        else {
            throw StoreError(code: .invalidName, message: "invalid administrator name \"\(LogSafeText.escaped(text, limit: 40))\": 1-\(maxAdminNameLength) characters of a-z, 0-9, ., _ and -, not starting with .")
        }
        return name
    }

    /// Adds an administrator; `alreadyExists` if there is one of that name.
    public func addAdmin(_ name: String, password: String) throws {
        let n = try Self.validateAdminName(name)
        let record = try PasswordHasher.makeAdminRecord(password: password, guid: guid, rounds: currentKDFRounds)
        do { try volume.mkdir(Self.adminsDir) } catch let e as StoreError where e.code == .alreadyExists {}
        do {
            try volume.writeFile(try Self.adminsDir.appending(n), record.encoded(), exclusive: true)
        } catch let e as StoreError where e.code == .alreadyExists {
            throw StoreError(code: .alreadyExists, message: "administrator \(n) already exists")
        }
        try volume.fsyncDirectory(Self.adminsDir)
    }

    /// Replaces an administrator's password; `notFound` if there is none of that name.
    public func setAdminPassword(_ name: String, password: String) throws {
        let n = try Self.validateAdminName(name)
        let path = try Self.adminsDir.appending(n)
        guard try volume.exists(path) else { throw StoreError(code: .notFound, message: "no administrator \(n)") }
        let record = try PasswordHasher.makeAdminRecord(password: password, guid: guid, rounds: currentKDFRounds)
        try volume.writeAtomically(path, record.encoded(), staging: Self.metaTmp)
    }

    /// Removes the administrator and its API tokens (so that one added again later under the name gets none of them).
    public func removeAdmin(_ name: String) throws {
        let n = try Self.validateAdminName(name)
        do {
            try volume.unlink(try Self.adminsDir.appending(n))
        } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notFound, message: "no administrator \(n)")
        }
        for token in try apiTokens() where token.admin == n { try? revokeAPIToken(token.id) }
    }

    public func admins() throws -> [String] {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.adminsDir) } catch let e as StoreError where e.code == .notFound { return [] }
        return entries.filter { $0.attributes.kind == .file && (try? Self.validateAdminName($0.name)) == $0.name }.map(\.name).sorted()
    }

    /// Whether `password` is the administrator's (blocking: the KDF). An unknown or invalid name costs the same
    /// work as a wrong password, so timing does not tell which names exist.
    public func verifyAdmin(_ name: String, password: String) -> Bool {
        let bytes = Array(password.utf8)
        guard let n = try? Self.validateAdminName(name),
            let data = try? volume.readAll(try Self.adminsDir.appending(n), limit: 64 * 1024),
            let record = try? PasswordRecord(decoding: data), let key = guid(for: record)
        else {
            PasswordHasher.dummyVerify(password: bytes, guid: guid, rounds: currentKDFRounds)
            return false
        }
        return PasswordHasher.verify(password: bytes, record: record, guid: key)
    }
}

extension MailStore {
    /// Whether the administrator is still there (one stat): the console asks on each request, so a removed
    /// administrator's sessions end at once.
    public func adminExists(_ name: String) throws -> Bool {
        guard let n = try? Self.validateAdminName(name) else { return false }
        return try volume.exists(try Self.adminsDir.appending(n))
    }
}
