import Crypto
import CryptoExtras
import Foundation

/// A mailbox's SCRAM-SHA-256 keys (RFC 5802 §3, RFC 7677), kept in the file `scram` beside the password record,
/// sealed with AES-GCM under a key derived from the cluster GUID and bound to the address and to the password
/// record it was made with (its PHC string): a stolen store without the GUID file gives nothing to guess from, and
/// keys left from an older password (a login's late write racing `poplar mailbox passwd`) no longer open. With the GUID, an attacker gets StoredKey and ServerKey, which are not
/// password equivalents (a proof cannot be made from them) but allow an offline guess at `iterations` PBKDF2 rounds
/// per try, like the PBKDF2 record itself.
public struct SCRAMSecret: Sendable, Equatable {
    public var iterations: Int
    public var salt: [UInt8]
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    /// RFC 7677 §4: at least 4096.
    public static let minimumIterations = 4096
    static let saltLength = 16
    static let sealInfo = "poplar scram keys v1"
    static let fakeSaltInfo = "poplar scram fake salt v1"

    public init(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// The keys for a password: SaltedPassword = PBKDF2-SHA256(SASLprep(password), salt, iterations). Nil when the
    /// password is not a valid SASLprep string (a client could not send it either).
    public static func make(password: String, iterations: Int) throws -> SCRAMSecret? {
        var rng = SystemRandomNumberGenerator()
        let salt = (0..<saltLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return try derive(password: password, salt: salt, iterations: max(iterations, minimumIterations))
    }

    /// The keys for a password with this salt and count (RFC 5802 §3).
    public static func derive(password: String, salt: [UInt8], iterations: Int) throws -> SCRAMSecret? {
        guard let prepared = SASLprep.prepare(password) else { return nil }
        let salted = try KDF.Insecure.PBKDF2.deriveKey(from: Array(prepared.utf8), salt: salt, using: .sha256, outputByteCount: 32,
                                                       unsafeUncheckedRounds: iterations)
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: salted))
        let serverKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: salted))
        return SCRAMSecret(iterations: iterations, salt: salt, storedKey: Array(SHA256.hash(data: clientKey)), serverKey: serverKey)
    }

    /// What the exchange shows for a name that is no account here (or has no SCRAM keys): a salt that is the same on
    /// every try and every node (derived from the GUID and the name), the cluster's iteration count, and keys no
    /// password matches. The exchange then looks like a real account's, and fails at the proof.
    public static func decoy(user: String, guid: ClusterGUID, iterations: Int) -> SCRAMSecret {
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: guid.key, info: Array(fakeSaltInfo.utf8), outputByteCount: 32)
        let salt = Array(HMAC<SHA256>.authenticationCode(for: Array(user.utf8), using: key).prefix(saltLength))
        var rng = SystemRandomNumberGenerator()
        let random = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return SCRAMSecret(iterations: max(iterations, minimumIterations), salt: salt, storedKey: random, serverKey: random)
    }

    /// `i=<n>,s=<base64>,k=<base64 StoredKey>,v=<base64 ServerKey>`, sealed.
    func sealed(address: MailboxAddress, phc: String, guid: ClusterGUID) throws -> [UInt8] {
        let text = "i=\(iterations),s=\(b64(salt)),k=\(b64(storedKey)),v=\(b64(serverKey))"
        let box = try AES.GCM.seal(Array(text.utf8), using: Self.sealKey(guid), authenticating: Self.binding(address, phc))
        guard let combined = box.combined else { throw StoreError(code: .io, message: "cannot seal the SCRAM keys") }
        return Array(combined)
    }

    /// Nil when the keys do not open: another GUID, another password record, or damage.
    static func open(_ sealed: [UInt8], address: MailboxAddress, phc: String, guid: ClusterGUID) -> SCRAMSecret? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plain = try? AES.GCM.open(box, using: sealKey(guid), authenticating: binding(address, phc))
        else { return nil }
        return parse(String(decoding: plain, as: UTF8.self))
    }

    static func binding(_ address: MailboxAddress, _ phc: String) -> [UInt8] {
        Array("\(address)\n\(phc)".utf8)
    }

    /// The file form: `scram=<base64 of the sealed keys>`.
    func encoded(address: MailboxAddress, phc: String, guid: ClusterGUID) throws -> [UInt8] {
        Array("scram=\(Data(try sealed(address: address, phc: phc, guid: guid)).base64EncodedString())\n".utf8)
    }

    static func decode(_ bytes: [UInt8], address: MailboxAddress, phc: String, guid: ClusterGUID) -> SCRAMSecret? {
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("scram="), let sealed = Data(base64Encoded: String(text.dropFirst(6))) else { return nil }
        return open(Array(sealed), address: address, phc: phc, guid: guid)
    }

    /// Public for the fuzz targets.
    public static func parse(_ text: String) -> SCRAMSecret? {
        var fields: [Substring: Substring] = [:]
        for part in text.split(separator: ",") {
            guard let eq = part.firstIndex(of: "=") else { return nil }
            fields[part[..<eq]] = part[part.index(after: eq)...]
        }
        guard let i = fields["i"].flatMap({ Int($0) }), i >= 1, i <= 10_000_000,
            let s = fields["s"].flatMap({ Data(base64Encoded: String($0)) }), !s.isEmpty,
            let k = fields["k"].flatMap({ Data(base64Encoded: String($0)) }), k.count == 32,
            let v = fields["v"].flatMap({ Data(base64Encoded: String($0)) }), v.count == 32
        else { return nil }
        return SCRAMSecret(iterations: i, salt: Array(s), storedKey: Array(k), serverKey: Array(v))
    }

    static func sealKey(_ guid: ClusterGUID) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: guid.key, info: Array(sealInfo.utf8), outputByteCount: 32)
    }

    private func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
