import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Remembers recent successful password logins so that a poller checking every minute does not pay the slow
/// hash each time (Dovecot's auth cache does the same). What is kept is an HMAC of the password under a key that
/// lives only in this process's memory, bound to the password record it was checked against: a changed password
/// record (passwd, new GUID) misses the cache at once. Bounded in entries and in age.
public final class LoginCache: Sendable {
    private struct Entry {
        var recordDigest: SHA256Digest
        var passwordMAC: HashedAuthenticationCode<SHA256>
        var expires: NIODeadline
    }

    private let key = SymmetricKey(size: .bits256)
    private let ttl: TimeAmount
    private let capacity: Int
    private let entries = NIOLockedValueBox([String: Entry]())

    public init(ttl: TimeAmount, capacity: Int) {
        self.ttl = ttl
        self.capacity = max(0, capacity)
    }

    /// True when `password` was verified against this very `record` within the TTL.
    public func contains(user: String, password: [UInt8], recordBytes: [UInt8], now: NIODeadline = .now()) -> Bool {
        let digest = SHA256.hash(data: recordBytes)
        let mac = HMAC<SHA256>.authenticationCode(for: password, using: key)
        return entries.withLockedValue { entries in
            guard let entry = entries[user] else { return false }
            guard entry.expires > now, entry.recordDigest == digest else {
                entries[user] = nil
                return false
            }
            return entry.passwordMAC == mac  // HashedAuthenticationCode compares in constant time
        }
    }

    public func insert(user: String, password: [UInt8], recordBytes: [UInt8], now: NIODeadline = .now()) {
        guard capacity > 0 else { return }
        let entry = Entry(
            recordDigest: SHA256.hash(data: recordBytes),
            passwordMAC: HMAC<SHA256>.authenticationCode(for: password, using: key),
            expires: now + ttl
        )
        entries.withLockedValue { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity, let victim = entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                    entries[victim] = nil
                }
            }
            entries[user] = entry
        }
    }

    public func remove(user: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: user) }
    }

    public var count: Int { entries.withLockedValue { $0.count } }
}
