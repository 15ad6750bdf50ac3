import Crypto
import Foundation

/// Bearer tokens of the admin HTTP API (`poplar admin-user token NAME`), one file each in `.poplar/tokens/<id>`:
/// the administrator, an HMAC of the token's secret keyed by the cluster GUID (with the GUID's tag, so a record of
/// the previous GUID still verifies during a rotation), when it was made and when it expires. The secret itself is
/// shown once and kept nowhere: a copy of the NAS without the GUID cannot even test a guess.
/// A token reads `poplar_<id>_<secret>`: 16 hex digits, then 43 base64url characters (256 random bits).
public struct APIToken: Sendable, Equatable {
    public static let maxRecordSize = 1024
    public static let prefix = "poplar_"
    /// Times a record may hold (seconds since 1970, to the year 9999): within them a date converts back exactly.
    static let times: ClosedRange<Int64> = 0...253_402_300_799

    public var id: String
    public var admin: String
    public var keyTag: String
    public var mac: String
    public var created: Date
    /// nil: never.
    public var expires: Date?

    public func encoded() -> [UInt8] {
        var text = "admin=\(admin)\nkey=\(keyTag)\nmac=\(mac)\ncreated=\(Int64(created.timeIntervalSince1970))\n"
        if let expires { text += "expires=\(Int64(expires.timeIntervalSince1970))\n" }
        return Array(text.utf8)
    }

    /// Nil for anything that is not a whole record (a file on the NAS is data, whoever wrote it).
    public init?(id: String, decoding bytes: [UInt8]) {
        guard bytes.count <= Self.maxRecordSize, APIToken.isID(id) else { return nil }
        var fields: [Substring: Substring] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[line[..<eq]] = line[line.index(after: eq)...]
        }
        guard let admin = fields["admin"], let key = fields["key"], let mac = fields["mac"], mac.utf8.count == 64,
            let created = fields["created"].flatMap({ Int64($0) }), Self.times.contains(created)
        else { return nil }
        let expires = fields["expires"].flatMap { Int64($0) }
        if fields["expires"] != nil && !(expires.map(Self.times.contains) ?? false) { return nil }
        self.init(id: id, admin: String(admin), keyTag: String(key), mac: String(mac), created: Date(timeIntervalSince1970: Double(created)),
                  expires: expires.map { Date(timeIntervalSince1970: Double($0)) })
    }

    public init(id: String, admin: String, keyTag: String, mac: String, created: Date, expires: Date?) {
        self.id = id
        self.admin = admin
        self.keyTag = keyTag
        self.mac = mac
        self.created = created
        self.expires = expires
    }

    static func isID(_ text: Substring) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
    static func isID(_ text: String) -> Bool { isID(Substring(text)) }

    /// The id and the secret of a presented token; nil for anything else (bounded: a token is 80 bytes).
    public static func parse(_ token: String) -> (id: String, secret: String)? {
        guard token.utf8.count == prefix.utf8.count + 16 + 1 + 43, token.hasPrefix(prefix) else { return nil }
        let rest = token.dropFirst(prefix.count)
        let id = rest.prefix(16), secret = rest.dropFirst(17)
        guard isID(id), rest.dropFirst(16).first == "_",
            secret.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F })
        else { return nil }
        return (String(id), String(secret))
    }

    static func mac(secret: String, guid: ClusterGUID) -> String {
        let key = SymmetricKey(data: SHA256.hash(data: Array("poplar api token".utf8) + guid.bytes))
        return HMAC<SHA256>.authenticationCode(for: Array(secret.utf8), using: key).map { String(format: "%02x", $0) }.joined()
    }
}

extension MailStore {
    static let tokensDir = try! StorePath([".poplar", "tokens"])
    /// The longest life a token may be given.
    public static let maxTokenDays = 3650

    /// Makes a token for an existing administrator; returns the token (shown once) and its record.
    public func makeAPIToken(admin name: String, days: Int?, now: Date = Date()) throws -> (token: String, record: APIToken) {
        let n = try Self.validateAdminName(name)
        guard try adminExists(n) else { throw StoreError(code: .notFound, message: "no administrator \(n)") }
        if let days, !(1...Self.maxTokenDays).contains(days) {
            throw StoreError(code: .invalidName, message: "a token lives 1 to \(Self.maxTokenDays) days")
        }
        let id = String(format: "%016llx", UInt64.random(in: 0...UInt64.max))
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let record = APIToken(id: id, admin: n, keyTag: guid.tag, mac: APIToken.mac(secret: secret, guid: guid),
                              created: now, expires: days.map { now.addingTimeInterval(Double($0) * 86_400) })
        do { try volume.mkdir(Self.tokensDir) } catch let e as StoreError where e.code == .alreadyExists {}
        try volume.writeFile(try Self.tokensDir.appending(id), record.encoded(), exclusive: true)
        try volume.fsyncDirectory(Self.tokensDir)
        return (APIToken.prefix + id + "_" + secret, record)
    }

    /// The administrator a presented token stands for, or nil: malformed, unknown, revoked, expired, keyed by a GUID
    /// this cluster no longer has, or its administrator removed. One read of one file; the MAC compared in constant time.
    public func verifyAPIToken(_ token: String, now: Date = Date()) -> String? {
        guard let (id, secret) = APIToken.parse(token),
            let bytes = try? volume.readAll(try Self.tokensDir.appending(id), limit: APIToken.maxRecordSize),
            let record = APIToken(id: id, decoding: bytes)
        else { return nil }
        let key: ClusterGUID
        if record.keyTag == guid.tag { key = guid } else if let previous = previousGUID, record.keyTag == previous.tag { key = previous } else { return nil }
        guard ConstantTime.equal(APIToken.mac(secret: secret, guid: key), record.mac) else { return nil }
        if let expires = record.expires, expires <= now { return nil }
        guard (try? adminExists(record.admin)) == true else { return nil }
        return record.admin
    }

    /// Every token record (never a secret), oldest first.
    public func apiTokens() throws -> [APIToken] {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.tokensDir) } catch let e as StoreError where e.code == .notFound { return [] }
        return entries.filter { $0.attributes.kind == .file && APIToken.isID($0.name) }.compactMap { entry in
            guard let bytes = try? volume.readAll(try Self.tokensDir.appending(entry.name), limit: APIToken.maxRecordSize) else { return nil }
            return APIToken(id: entry.name, decoding: bytes)
        }.sorted { $0.created < $1.created }
    }

    public func revokeAPIToken(_ id: String) throws {
        guard APIToken.isID(id) else { throw StoreError(code: .invalidName, message: "a token id is 16 hex digits") }
        do {
            try volume.unlink(try Self.tokensDir.appending(id))
        } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notFound, message: "no token \(id)")
        }
    }
}
