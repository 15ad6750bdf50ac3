import Crypto
import CryptoExtras
import Foundation

/// A mailbox's password record. `phc` is `$pbkdf2-sha256$i=<rounds>$<salt>$<hash>` (unpadded base64) of
/// HMAC-SHA256(GUID, password): without the GUID a stolen store gives nothing to guess offline. `sealedSecret`
/// exists only for mailboxes that allow APOP/CRAM-MD5, which need a plaintext-equivalent secret: the password
/// sealed with AES-GCM under a key derived from the GUID, bound to the address.
public struct PasswordRecord: Sendable, Equatable {
    public var phc: String
    public var sealedSecret: [UInt8]?
    /// The tag of the GUID that keys this record (`ClusterGUID.tag`); nil in records written before GUID rotation
    /// existed, which the store reads as keyed by the previous GUID during a rotation, else the current one.
    public var keyTag: String?
    public var allowsAPOP: Bool { sealedSecret != nil }

    public init(phc: String, sealedSecret: [UInt8]?, keyTag: String? = nil) {
        self.phc = phc
        self.sealedSecret = sealedSecret
        self.keyTag = keyTag
    }

    /// File form: `phc=…`, optionally `apop=<base64>`, and `key=<GUID tag>`, one per line.
    public func encoded() -> [UInt8] {
        var text = "phc=\(phc)\n"
        if let sealedSecret { text += "apop=\(Data(sealedSecret).base64EncodedString())\n" }
        if let keyTag { text += "key=\(keyTag)\n" }
        return Array(text.utf8)
    }

    public init(decoding bytes: [UInt8]) throws {
        var phc: String?
        var sealed: [UInt8]?
        var tag: String?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("phc=") { phc = String(line.dropFirst(4)) }
            if line.hasPrefix("key=") { tag = String(line.dropFirst(4).prefix(64)) }
            if line.hasPrefix("apop=") {
                guard let data = Data(base64Encoded: String(line.dropFirst(5))) else {
                    throw StoreError(code: .corrupt, message: "password record: invalid apop field")
                }
                sealed = Array(data)
            }
        }
        guard let phc else { throw StoreError(code: .corrupt, message: "password record without phc field") }
        self.init(phc: phc, sealedSecret: sealed, keyTag: tag)
    }
}

public enum PasswordHasher {
    /// swift-crypto's own minimum for PBKDF2-SHA256 (OWASP 2023).
    public static let defaultRounds = 210_000
    static let saltLength = 16
    static let hashLength = 32
    static let secretInfo = "poplar apop secret v1"

    public static func makeRecord(password: String, address: MailboxAddress, guid: ClusterGUID, rounds: Int, allowAPOP: Bool) throws -> PasswordRecord {
        var rng = SystemRandomNumberGenerator()
        let salt = (0..<saltLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let hash = try derive(password: Array(password.utf8), salt: salt, rounds: rounds, guid: guid)
        let phc = "$pbkdf2-sha256$i=\(rounds)$\(b64(salt))$\(b64(hash))"
        let sealed = allowAPOP ? try sealSecret(Array(password.utf8), address: address, guid: guid) : nil
        return PasswordRecord(phc: phc, sealedSecret: sealed, keyTag: guid.tag)
    }

    /// The APOP secret sealed under HKDF(GUID) and bound to the address (AES-GCM's associated data).
    static func sealSecret(_ secret: [UInt8], address: MailboxAddress, guid: ClusterGUID) throws -> [UInt8] {
        let box = try AES.GCM.seal(secret, using: secretKey(guid), authenticating: Array(address.description.utf8))
        guard let combined = box.combined else { throw StoreError(code: .io, message: "cannot seal the APOP secret") }
        return Array(combined)
    }

    /// Constant-time comparison of the derived hash.
    public static func verify(password: [UInt8], record: PasswordRecord, guid: ClusterGUID) -> Bool {
        guard let parsed = parse(record.phc),
            let hash = try? derive(password: password, salt: parsed.salt, rounds: parsed.rounds, guid: guid),
            hash.count == parsed.hash.count
        else { return false }
        return ConstantTime.equal(hash, parsed.hash)
    }

    /// The same work as a verification, for a user that does not exist: equal timing.
    public static func dummyVerify(password: [UInt8], guid: ClusterGUID, rounds: Int) {
        _ = try? derive(password: password, salt: [UInt8](repeating: 0, count: saltLength), rounds: rounds, guid: guid)
    }

    /// The plaintext-equivalent secret for APOP/CRAM-MD5; nil when the mailbox does not allow them.
    public static func openSecret(record: PasswordRecord, address: MailboxAddress, guid: ClusterGUID) throws -> [UInt8]? {
        guard let sealed = record.sealedSecret else { return nil }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: secretKey(guid), authenticating: Array(address.description.utf8)))
        } catch {
            throw StoreError(code: .corrupt, message: "the APOP secret of \(address) cannot be opened with this GUID")
        }
    }

    static func derive(password: [UInt8], salt: [UInt8], rounds: Int, guid: ClusterGUID) throws -> [UInt8] {
        let keyed = Array(HMAC<SHA256>.authenticationCode(for: password, using: guid.key))
        let key: SymmetricKey
        if rounds >= defaultRounds {
            key = try KDF.Insecure.PBKDF2.deriveKey(from: keyed, salt: salt, using: .sha256, outputByteCount: hashLength, rounds: rounds)
        } else {
            // Fewer rounds only when a root was initialised so (tests, `--kdf-rounds`).
            key = try KDF.Insecure.PBKDF2.deriveKey(from: keyed, salt: salt, using: .sha256, outputByteCount: hashLength, unsafeUncheckedRounds: max(1, rounds))
        }
        return key.withUnsafeBytes { Array($0) }
    }

    static func secretKey(_ guid: ClusterGUID) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: guid.key, info: Array(secretInfo.utf8), outputByteCount: 32)
    }

    /// The most rounds a record may name (a record claiming more is refused, not computed).
    public static let maxRounds = 100_000_000

    /// `$pbkdf2-sha256$i=<rounds>$<salt>$<hash>`; nil for anything else (public for the fuzz targets).
    public static func parse(_ phc: String) -> (rounds: Int, salt: [UInt8], hash: [UInt8])? {
        let parts = phc.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "pbkdf2-sha256", parts[2].hasPrefix("i="),
            let rounds = Int(parts[2].dropFirst(2)), rounds > 0, rounds <= maxRounds,
            let salt = unb64(String(parts[3])), let hash = unb64(String(parts[4]))
        else { return nil }
        return (rounds, salt, hash)
    }

    static func b64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    static func unb64(_ text: String) -> [UInt8]? {
        let padded = text + String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: padded).map(Array.init)
    }
}
