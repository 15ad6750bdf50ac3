import Crypto

/// What a server keeps for SCRAM-SHA-256 (RFC 5802 §3, RFC 7677): the salt, the iteration count, StoredKey =
/// H(ClientKey) and ServerKey. Neither key is a password equivalent: StoredKey checks a proof but cannot make one,
/// ServerKey only proves the server to the client.
public struct SCRAMServerKeys: Sendable, Equatable {
    public var iterations: Int
    public var salt: [UInt8]
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    public init(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// RFC 5802 §3: ClientSignature = HMAC(StoredKey, AuthMessage), ClientKey = ClientProof XOR ClientSignature, and
    /// the proof is right when H(ClientKey) = StoredKey (compared in constant time).
    public func verify(proof: [UInt8], authMessage: [UInt8]) -> Bool {
        guard proof.count == SHA256.byteCount, storedKey.count == SHA256.byteCount else { return false }
        let signature = Array(HMAC<SHA256>.authenticationCode(for: authMessage, using: SymmetricKey(data: storedKey)))
        let clientKey = zip(proof, signature).map { $0 ^ $1 }
        let computed = Array(SHA256.hash(data: clientKey))
        var diff: UInt8 = 0
        for i in 0..<computed.count { diff |= computed[i] ^ storedKey[i] }
        return diff == 0
    }

    /// ServerSignature = HMAC(ServerKey, AuthMessage), sent in the server-final message.
    public func serverSignature(authMessage: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: authMessage, using: SymmetricKey(data: serverKey)))
    }

    /// StoredKey and ServerKey from SaltedPassword = Hi(Normalize(password), salt, i) (computed by the caller, which
    /// has the KDF).
    public static func keys(saltedPassword: [UInt8], salt: [UInt8], iterations: Int) -> SCRAMServerKeys {
        let key = SymmetricKey(data: saltedPassword)
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: key))
        let serverKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: key))
        return SCRAMServerKeys(iterations: iterations, salt: salt, storedKey: Array(SHA256.hash(data: clientKey)), serverKey: serverKey)
    }
}
