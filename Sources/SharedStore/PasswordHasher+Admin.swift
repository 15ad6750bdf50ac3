import Foundation

/// Console administrators' passwords: the same PBKDF2-SHA256 over HMAC(GUID, password) as mailbox records, so a
/// stolen store gives nothing to guess offline without the GUID. Never APOP: no sealed secret.
extension PasswordHasher {
    public static func makeAdminRecord(password: String, guid: ClusterGUID, rounds: Int) throws -> PasswordRecord {
        var rng = SystemRandomNumberGenerator()
        let salt = (0..<saltLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let hash = try derive(password: Array(password.utf8), salt: salt, rounds: rounds, guid: guid)
        return PasswordRecord(phc: "$pbkdf2-sha256$i=\(rounds)$\(b64(salt))$\(b64(hash))", sealedSecret: nil, keyTag: guid.tag)
    }
}
