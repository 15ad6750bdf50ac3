import Crypto
import Foundation
import POP3Core
import SharedStore

/// The cluster's own password file (`auth.backend passwd`, the default): a slow salted hash of HMAC(GUID, password)
/// per mailbox in the store, with a cache of recent successful logins; APOP and CRAM-MD5 through the secret sealed
/// by the GUID for mailboxes that allow them.
public final class PasswdBackend: AuthBackend {
    public let store: MailStore
    public let cache: LoginCache
    public var name: String { "passwd" }
    public var supportsSharedSecrets: Bool { true }

    public init(store: MailStore, cache: LoginCache) {
        self.store = store
        self.cache = cache
    }

    public func verify(_ credentials: POP3Credentials, address: MailboxAddress) -> AuthVerdict {
        do {
            guard let record = try Authenticator.missingAsNil({ try store.passwordRecord(address) }) else {
                // No record: unknown user (or an external mailbox): the same work as a real check.
                burnEquivalentWork(credentials)
                return .rejected
            }
            return try check(credentials, address: address, record: record) ? .accepted : .rejected
        } catch let error as StoreError {
            return .unavailable(error.message)
        } catch {
            return .unavailable("\(error)")
        }
    }

    private func check(_ credentials: POP3Credentials, address: MailboxAddress, record: PasswordRecord) throws -> Bool {
        let recordBytes = Array(record.phc.utf8) + (record.sealedSecret ?? [])
        switch credentials {
        case .password(_, let password):
            let bytes = Array(password.utf8)
            if cache.contains(user: address.description, password: bytes, recordBytes: recordBytes) { return true }
            guard PasswordHasher.verify(password: bytes, record: record, guid: store.guid) else { return false }
            cache.insert(user: address.description, password: bytes, recordBytes: recordBytes)
            return true
        case .apop(_, let digest, let timestamp):
            // RFC 1939 §7: MD5(timestamp + secret), lowercase hex.
            guard let secret = try PasswordHasher.openSecret(record: record, address: address, guid: store.guid) else { return false }
            let expected = Insecure.MD5.hash(data: Array(timestamp.utf8) + secret).hexString
            return Authenticator.constantTimeEqual(expected, digest.lowercased())
        case .cramMD5(_, let digest, let challenge):
            // RFC 2195: HMAC-MD5(secret, challenge), lowercase hex.
            guard let secret = try PasswordHasher.openSecret(record: record, address: address, guid: store.guid) else { return false }
            let mac = HMAC<Insecure.MD5>.authenticationCode(for: Array(challenge.utf8), using: SymmetricKey(data: secret))
            return Authenticator.constantTimeEqual(Data(mac).hexString, digest.lowercased())
        }
    }

    public func burnEquivalentWork(_ credentials: POP3Credentials) {
        if case .password(_, let password) = credentials {
            PasswordHasher.dummyVerify(password: Array(password.utf8), guid: store.guid, rounds: store.info.kdfRounds)
        }
    }
}
