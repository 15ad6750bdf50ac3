import Foundation

/// The coordinator's pickup and Badmail folders (docs/coordinator.md), read and tended by administrators: what
/// waits in pickup, what went to Badmail and why, a Badmail file put back into pickup (retry) or deleted.
extension MailStore {
    public static let pickupDir = try! StorePath([".poplar", "pickup"])
    public static let badmailDir = try! StorePath([".poplar", "badmail"])
    public static let badmailReasonSuffix = ".reason"
    /// A reason file is read up to this many bytes; a message shown up to `maxBadmailShown`.
    public static let maxBadmailReason = 4096
    public static let maxBadmailShown = 64 * 1024

    /// A file in Badmail, with the first bytes of its `.reason`.
    public struct BadmailEntry: Sendable, Equatable {
        public var name: String
        public var size: Int64
        public var modified: Date
        public var reason: String
    }

    /// Files waiting in pickup (not claimed ones, whose names start with "."): how many, and the oldest's time.
    public func pickupWaiting() throws -> (count: Int, oldest: Date?) {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.pickupDir) } catch let e as StoreError where e.code == .notFound { return (0, nil) }
        let waiting = entries.filter { $0.attributes.kind == .file && !$0.name.hasPrefix(".") }
        let oldest = waiting.map(\.attributes.modifiedNanoseconds).min().map { Date(timeIntervalSince1970: Double($0) / 1e9) }
        return (waiting.count, oldest)
    }

    /// Badmail's messages, newest first, at most `limit`.
    public func badmail(limit: Int) throws -> [BadmailEntry] {
        let entries: [DirectoryEntry]
        do { entries = try volume.list(Self.badmailDir) } catch let e as StoreError where e.code == .notFound { return [] }
        let messages = entries.filter { $0.attributes.kind == .file && Self.isBadmailName($0.name) }
            .sorted { $0.attributes.modifiedNanoseconds > $1.attributes.modifiedNanoseconds }.prefix(limit)
        return messages.map { e in
            BadmailEntry(name: e.name, size: e.attributes.size, modified: Date(timeIntervalSince1970: Double(e.attributes.modifiedNanoseconds) / 1e9),
                         reason: (try? readBadmailReason(e.name)) ?? "")
        }
    }

    /// The first `maxBadmailShown` bytes of a Badmail message, and whether there is more.
    public func badmailMessage(_ name: String) throws -> (bytes: [UInt8], truncated: Bool, reason: String) {
        let path = try badmailPath(name)
        let handle = try volume.openForReading(path)
        defer { handle.close() }
        let bytes = try handle.read(at: 0, count: Self.maxBadmailShown + 1)
        return (Array(bytes.prefix(Self.maxBadmailShown)), bytes.count > Self.maxBadmailShown, (try? readBadmailReason(name)) ?? "")
    }

    /// Puts a Badmail message back into pickup under its name, for the coordinator's next scan; its reason goes.
    /// `alreadyExists` if pickup has a file of that name.
    public func retryBadmail(_ name: String) throws {
        let from = try badmailPath(name)
        guard try volume.exists(from) else { throw StoreError(code: .notFound, message: "no file \(name) in Badmail") }
        let to = try Self.pickupDir.appending(name)
        guard try !volume.exists(to) else { throw StoreError(code: .alreadyExists, message: "pickup already has a file \(name)") }
        try volume.renameChecked(from, to: to)
        try? volume.unlink(try Self.badmailDir.appending(name + Self.badmailReasonSuffix))
    }

    public func deleteBadmail(_ name: String) throws {
        do {
            try volume.unlink(try badmailPath(name))
        } catch let e as StoreError where e.code == .notFound {
            throw StoreError(code: .notFound, message: "no file \(name) in Badmail")
        }
        try? volume.unlink(try Self.badmailDir.appending(name + Self.badmailReasonSuffix))
    }

    /// A message's name in Badmail: one path component, not hidden, not a reason file.
    static func isBadmailName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255 && !name.hasPrefix(".") && !name.hasSuffix(badmailReasonSuffix) && !name.contains("/")
            && name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }

    func badmailPath(_ name: String) throws -> StorePath {
        guard Self.isBadmailName(name) else {
            throw StoreError(code: .invalidName, message: "\"\(LogSafeText.escaped(name, limit: 60))\" is not a Badmail message's name")
        }
        return try Self.badmailDir.appending(name)
    }

    private func readBadmailReason(_ name: String) throws -> String {
        let handle = try volume.openForReading(try Self.badmailDir.appending(name + Self.badmailReasonSuffix))
        defer { handle.close() }
        return String(decoding: try handle.read(at: 0, count: Self.maxBadmailReason), as: UTF8.self)
    }
}
