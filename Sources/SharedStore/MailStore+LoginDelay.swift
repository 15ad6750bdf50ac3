import Foundation

/// LOGIN-DELAY (RFC 2449 §6.5): the time of a mailbox's last login, in its file `lastlogin`, written only for
/// mailboxes of domains that have a login delay (docs/store-layout.md).
extension MailStore {
    static let lastLoginName = "lastlogin"

    /// When the mailbox was last logged into; nil if never (or unreadable: a login is not refused for it).
    public func lastLogin(_ address: MailboxAddress) throws -> Date? {
        let path = try mailboxDir(address).appending(Self.lastLoginName)
        let bytes: [UInt8]
        do { bytes = try volume.readAll(path, limit: 64) } catch let e as StoreError where e.code == .notFound || e.code == .corrupt { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("at="), let ms = Int64(text.dropFirst(3)), ms >= 0 else { return nil }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// Records a login (under the session's lock).
    public func recordLogin(_ address: MailboxAddress, at date: Date = Date()) throws {
        let dir = try mailboxDir(address)
        try volume.writeAtomically(try dir.appending(Self.lastLoginName), Array("at=\(Int64(date.timeIntervalSince1970 * 1000))\n".utf8),
                                   staging: try dir.appending("tmp"))
    }
}
