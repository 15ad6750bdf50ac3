import Crypto
import Foundation

/// The bounds of `poplar import`: every input read from another server's store is bounded by one of these.
public enum ImportLimits {
    /// The largest message imported; a larger one is an error for that message (nothing else is lost).
    public static let maxMessageBytes = 256 * 1024 * 1024
    /// The largest `dovecot-uidlist` or `courierpop3dsizelist` read.
    public static let maxIndexFileBytes = 64 * 1024 * 1024
    /// The longest line of an index file, of a POP3 reply line, or of a header line searched for X-UIDL.
    public static let maxLineBytes = 64 * 1024
    /// The most messages one source mailbox may list.
    public static let maxMessagesPerMailbox = 1_000_000
}

/// One message of a source, read only when it is imported (a message already present is never read again).
public struct ImportItem: Sendable {
    /// Where it comes from, for error texts: a path or "message 12".
    public var label: String
    /// The UIDL clients knew it by (validated before it is kept: RFC 1939 §7).
    public var uidl: String
    /// The size the source reports, if it knows one (progress only).
    public var size: Int64?
    public var load: @Sendable () throws -> [UInt8]

    public init(label: String, uidl: String, size: Int64? = nil, load: @escaping @Sendable () throws -> [UInt8]) {
        self.label = label
        self.uidl = uidl
        self.size = size
        self.load = load
    }

    /// A UIDL for a message its source gave none (a Maildir file Dovecot never listed, an mbox message without
    /// X-UIDL): derived from what identifies it in the source, so that a second import finds it present.
    /// 32 lowercase hex digits of SHA-256("poplar-import:<kind>:<key>").
    public static func derivedUIDL(kind: String, key: some Sequence<UInt8>) -> String {
        var hash = SHA256()
        hash.update(data: Array("poplar-import:\(kind):".utf8))
        hash.update(data: Array(key))
        return hash.finalize().prefix(16).map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }
}

/// What an import did for one mailbox (or, summed, for all).
public struct ImportSummary: Sendable, Equatable {
    public struct Failure: Sendable, Equatable, CustomStringConvertible {
        public var label: String
        public var reason: String
        public var description: String { "\(label): \(reason)" }
    }
    /// Messages written.
    public var messages = 0
    /// Their bytes as stored (CRLF).
    public var bytes: Int64 = 0
    /// Messages whose UIDL the mailbox already had (brought by an earlier run, or there before).
    public var skipped = 0
    public var errors: [Failure] = []
    /// Why the import of this mailbox stopped before its end, if it did; what was written before stays.
    public var stopped: Stop?

    public enum Stop: Sendable, Equatable {
        /// The source went away (`ImportSourceLost`): the next run goes on from here.
        case sourceLost(String)
        /// The store failed (unavailable, no space): nothing more can be written now.
        case storeFailed(StoreError)
    }

    public init() {}

    public mutating func add(_ other: ImportSummary) {
        messages += other.messages
        bytes += other.bytes
        skipped += other.skipped
        errors += other.errors
    }
}

/// Thrown by an item's `load` when the source itself is gone (a POP3 connection lost): the import of this mailbox
/// stops there; what was written stays, and the next run goes on from it.
public struct ImportSourceLost: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where an import stands, after each message (for a progress bar).
public struct ImportProgress: Sendable {
    public var done: Int
    public var total: Int
    public var summary: ImportSummary
}

extension MailStore {
    static let importWriteSlice = 1 << 20

    /// Every UIDL the mailbox serves now: the kept ones of imported messages and the digits of the others.
    public func uidls(of address: MailboxAddress) throws -> Set<String> {
        let dir = try mailboxDir(address)
        guard try mailboxPresent(dir) else { throw StoreError(code: .notFound, message: "no mailbox \(address)") }
        return Set(Self.messages(in: try volume.list(dir)).map(\.uidl))
    }

    /// The messages of a mailbox in the order a session numbers them (arrival), with their UIDLs.
    public func messages(of address: MailboxAddress) throws -> [MessageInfo] {
        let dir = try mailboxDir(address)
        guard try mailboxPresent(dir) else { throw StoreError(code: .notFound, message: "no mailbox \(address)") }
        return Self.messages(in: try volume.list(dir))
    }

    /// `poplar import`: each item whose UIDL the mailbox does not have yet is delivered keeping that UIDL, in the
    /// order given (which becomes the arrival order), through the delivery path (tmp, fsync, link, fsync of the
    /// directory): a crash leaves each message either whole and listed or absent, and the next run brings the rest.
    /// The quota is not enforced (the mail already existed; `mailbox show` tells the operator). A failing message
    /// is counted as an error and the next one is tried, except when the store itself is unavailable or full, or
    /// an item's `load` throws `ImportSourceLost`: then the import of this mailbox stops (`ImportSummary.stopped`),
    /// and what was written stays. Thrown only when the mailbox cannot be listed at the start.
    public func importMessages(_ items: [ImportItem], to address: MailboxAddress,
                               progress: (ImportProgress) -> Void = { _ in }) throws -> ImportSummary {
        var present = try uidls(of: address)
        var seen = Set<String>()
        var summary = ImportSummary()
        for (i, item) in items.enumerated() {
            defer { progress(ImportProgress(done: i + 1, total: items.count, summary: summary)) }
            guard MessageNamer.isValidUIDL(item.uidl) else {
                summary.errors.append(.init(label: item.label, reason: "UIDL \(LogSafeText.escaped(item.uidl)) is not one RFC 1939 allows (1 to 70 characters 0x21-0x7E)"))
                continue
            }
            guard seen.insert(item.uidl).inserted else {
                summary.errors.append(.init(label: item.label, reason: "UIDL \(item.uidl) appears twice in the source: this one is not imported"))
                continue
            }
            if present.contains(item.uidl) {
                summary.skipped += 1
                continue
            }
            let bytes: [UInt8]
            do {
                bytes = try item.load()
            } catch let lost as ImportSourceLost {
                summary.stopped = .sourceLost(lost.description)
                break
            } catch {
                summary.errors.append(.init(label: item.label, reason: "cannot be read: \(error)"))
                continue
            }
            do {
                guard bytes.count <= ImportLimits.maxMessageBytes else {
                    throw StoreError(code: .tooLarge, message: "\(bytes.count) bytes, more than the import limit of \(ImportLimits.maxMessageBytes)")
                }
                let writer = try beginDelivery(to: address, keptUIDL: item.uidl)
                do {
                    // In slices: the writer's CRLF copy of each stays small, so a message costs its size once.
                    var at = 0
                    repeat {
                        let end = min(at + Self.importWriteSlice, bytes.count)
                        try writer.write(Array(bytes[at..<end]))
                        at = end
                    } while at < bytes.count
                } catch {
                    writer.abort()
                    throw error
                }
                let info = try writer.finish(enforceQuota: false)
                present.insert(item.uidl)
                summary.messages += 1
                summary.bytes += info.size
            } catch let error as StoreError where error.code == .unavailable || error.code == .noSpace {
                summary.stopped = .storeFailed(error)
                break
            } catch let error as StoreError {
                summary.errors.append(.init(label: item.label, reason: error.message))
            } catch {
                summary.errors.append(.init(label: item.label, reason: "\(error)"))
            }
        }
        return summary
    }
}
