import Crypto
import Foundation
import Metrics
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
    public var supportsSCRAM: Bool { true }

    public init(store: MailStore, cache: LoginCache) {
        self.store = store
        self.cache = cache
    }

    /// A record with fewer KDF rounds than the cluster's now gets them, from the password just verified (once per
    /// mailbox: the next login finds the new record). A failure only delays it to the next login.
    private func rehashIfOlder(_ address: MailboxAddress, password: String, record: PasswordRecord) {
        guard store.needsRehash(record) else { return }
        if (try? store.rehash(address, password: password, verified: record)) == true {
            Counter(label: "poplar_password_rehashed_total").increment()
        }
    }

    /// The password file's accounts are the store's mailboxes that have a password record.
    public func lookupAccount(_ address: MailboxAddress) -> AccountLookup {
        do {
            return try Authenticator.missingAsNil({ try store.passwordRecord(address) }) == nil ? .unknown : .exists
        } catch let error as StoreError {
            return .unavailable(error.message)
        } catch {
            return .unavailable("\(error)")
        }
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
            if !cache.contains(user: address.description, password: bytes, recordBytes: recordBytes) {
                guard let key = store.guid(for: record), PasswordHasher.verify(password: bytes, record: record, guid: key) else { return false }
                cache.insert(user: address.description, password: bytes, recordBytes: recordBytes)
                addSCRAMKeys(address, password: password, record: record)
            }
            rehashIfOlder(address, password: password, record: record)
            return true
        case .apop(_, let digest, let timestamp):
            // RFC 1939 §7: MD5(timestamp + secret), lowercase hex.
            guard let key = store.guid(for: record), let secret = try PasswordHasher.openSecret(record: record, address: address, guid: key) else { return false }
            let expected = Insecure.MD5.hash(data: Array(timestamp.utf8) + secret).hexString
            return ConstantTime.equal(expected, digest.lowercased())
        case .cramMD5(_, let digest, let challenge):
            // RFC 2195: HMAC-MD5(secret, challenge), lowercase hex.
            guard let key = store.guid(for: record), let secret = try PasswordHasher.openSecret(record: record, address: address, guid: key) else { return false }
            let mac = HMAC<Insecure.MD5>.authenticationCode(for: Array(challenge.utf8), using: SymmetricKey(data: secret))
            return ConstantTime.equal(Data(mac).hexString, digest.lowercased())
        case .scram(_, let proofValid):
            // The session's machine checked the proof against the keys `scramKeys` gave it.
            return proofValid
        case .bearer:
            // Checked by the Authenticator's token verifier, never by the password file.
            return false
        case .ntlm(let user, let domain, let challenge, let response):
            // [MS-NLMP] NTLMv2 from the sealed secret (mailboxes made with --apop only), with the name the client sent.
            guard let key = store.guid(for: record), let secret = try PasswordHasher.openSecret(record: record, address: address, guid: key) else { return false }
            return NTLMv2.verify(password: secret, user: user, domain: domain, challenge: challenge, response: response)
        }
    }

    /// A record written before SCRAM existed gets its keys from the password it was just verified with (on a cache
    /// miss only, after the slow hash: two more store calls beside 40 ms of PBKDF2). Best effort: a store that cannot
    /// write now is asked again at the next such login.
    private func addSCRAMKeys(_ address: MailboxAddress, password: String, record: PasswordRecord) {
        do {
            if try store.addSCRAMIfMissing(address, password: password, record: record) {
                Counter(label: "poplar_scram_keys_added_total").increment()
            }
        } catch {
            Counter(label: "poplar_scram_keys_add_failures_total").increment()
        }
    }

    /// The SCRAM keys of a login name: the mailbox's, or decoy keys (the same salt on every try, no password matches)
    /// for a name that is no account or has no keys, so that the exchange does not tell them apart.
    public func scramKeys(user: String, address: MailboxAddress?) -> SCRAMLookup {
        let decoy = SCRAMSecret.decoy(user: address?.description ?? user, guid: store.guid, iterations: store.currentKDFRounds)
        do {
            let secret = try address.flatMap { try store.scramSecret($0) } ?? decoy
            return .keys(SCRAMServerKeys(iterations: secret.iterations, salt: secret.salt, storedKey: secret.storedKey,
                                         serverKey: secret.serverKey))
        } catch let error as StoreError {
            return .unavailable(Authenticator.temporaryText(error))
        } catch {
            return .unavailable("mail store unavailable, try again later")
        }
    }

    public func burnEquivalentWork(_ credentials: POP3Credentials) {
        if case .password(_, let password) = credentials {
            PasswordHasher.dummyVerify(password: Array(password.utf8), guid: store.guid, rounds: store.currentKDFRounds)
        }
    }
}
