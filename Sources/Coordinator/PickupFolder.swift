import Foundation
import Logging
import SMTPCore
import SharedStore

/// The seed's pickup and Badmail folders, in the shared store: a file dropped in `.poplar/pickup/` (IIS style:
/// leading `x-sender:` and `x-receiver:` lines, then the message) is delivered to each receiver and removed. A file
/// that cannot be delivered goes to `.poplar/badmail/` with `<name>.reason` beside it. Temporary trouble leaves
/// the file for the next scan. Files whose names start with "." are skipped: write there, then rename.
/// Blocking: runs on the thread pool.
public struct PickupFolder: Sendable {
    public static let pickup = MailStore.pickupDir
    public static let badmail = MailStore.badmailDir
    /// The envelope header block is bounded; a larger one is bad mail.
    static let maxEnvelopeBytes = 64 * 1024
    /// Files larger than this are bad mail (the coordinator's limit, which SIGHUP may change).
    public var maxMessageSize: Int { limit() }
    private let limit: @Sendable () -> Int
    public let delivery: InboundDelivery
    public let logger: Logger

    public init(delivery: InboundDelivery, maxMessageSize: Int, logger: Logger) {
        self.init(delivery: delivery, maxMessageSize: { maxMessageSize }, logger: logger)
    }

    public init(delivery: InboundDelivery, maxMessageSize: @escaping @Sendable () -> Int, logger: Logger) {
        self.delivery = delivery
        self.limit = maxMessageSize
        self.logger = logger
    }

    var volume: any Volume { delivery.store.volume }

    public func ensureFolders() throws {
        for dir in [Self.pickup, Self.badmail] {
            do { try volume.mkdir(dir) } catch let e as StoreError where e.code == .alreadyExists {}
        }
    }

    /// One scan; returns how many files were delivered and how many went to badmail.
    @discardableResult
    public func scan() throws -> (delivered: Int, bad: Int) {
        var delivered = 0, bad = 0
        for entry in try volume.list(Self.pickup) where entry.attributes.kind == .file && !entry.name.hasPrefix(".") {
            // Claim the file by renaming it to a name of this process: two coordinators never both deliver it.
            let work = try Self.pickup.appending(".work.\(UInt32.random(in: 0...UInt32.max)).\(entry.name)")
            do {
                try volume.rename(try Self.pickup.appending(entry.name), to: work)
            } catch let e as StoreError {
                // After an error the names decide: our work name there means the rename happened.
                guard try volume.exists(work) else {
                    if e.code == .notFound { continue }  // another coordinator took it
                    throw e
                }
            }
            switch process(work, name: entry.name, size: entry.attributes.size) {
            case .delivered: delivered += 1
            case .bad: bad += 1
            case .retryLater: try? volume.rename(work, to: try Self.pickup.appending(entry.name))
            }
        }
        return (delivered, bad)
    }

    enum Outcome { case delivered, bad, retryLater }

    private func process(_ work: StorePath, name: String, size: Int64) -> Outcome {
        do {
            guard size <= Int64(maxMessageSize) else { return toBadmail(work, name: name, reason: "larger than \(maxMessageSize) bytes") }
            let handle = try volume.openForReading(work)
            defer { handle.close() }
            let head = try handle.read(at: 0, count: Self.maxEnvelopeBytes)
            guard let (envelope, bodyOffset) = Self.parseEnvelope(head) else {
                return toBadmail(work, name: name, reason: "no x-receiver: line (IIS pickup format: x-sender: and x-receiver: lines, then the message)")
            }
            let spool = try Spool(directory: NSTemporaryDirectory())
            defer { spool.close() }
            var offset = Int64(bodyOffset)
            while true {
                let chunk = try handle.read(at: offset, count: 64 * 1024)
                if chunk.isEmpty { break }
                try spool.append(chunk)
                offset += Int64(chunk.count)
            }
            let replies = delivery.deliver(envelope, spool: spool, client: "pickup", via: "pickup", atomic: false)
            InboundDelivery.count(replies)
            let failed = zip(envelope.recipients, replies).filter { !$0.1.isPositive }
            let temporary = failed.filter { $0.1.code < 500 }, permanent = failed.filter { $0.1.code >= 500 }
            if !temporary.isEmpty && temporary.count == replies.count {
                return .retryLater  // nobody got it: the file stays as it is for the next scan
            }
            // Some got it and some failed for now: a new pickup file for those alone, so that a retry never
            // delivers a second copy to the others (as an MTA's queue keeps only the recipients still to do).
            if !temporary.isEmpty {
                do {
                    try requeue(work, name: name, sender: envelope.from, recipients: temporary.map(\.0), bodyOffset: Int64(bodyOffset))
                } catch {
                    // Retrying the whole file would deliver the others a second time: Badmail, saying who is left.
                    let left = temporary.map { "\($0.0): \($0.1.code) \($0.1.lines.joined(separator: " "))" }.joined(separator: "\n")
                    return toBadmail(work, name: name, reason: "not delivered (a temporary failure, and the retry could not be queued: \(error)):\n" + left)
                }
            }
            if permanent.isEmpty {
                try volume.unlinkChecked(work)
                logger.info("pickup delivered", metadata: ["pickup.file": .string(name), "pickup.recipients": .stringConvertible(replies.count),
                                                          "pickup.requeued": .stringConvertible(temporary.count)])
                return .delivered
            }
            let reason = permanent.map { "\($0.0): \($0.1.code) \($0.1.enhanced ?? "") \($0.1.lines.joined(separator: " "))" }.joined(separator: "\n")
            let requeued = temporary.isEmpty ? "" : "\nrequeued in the pickup folder for: " + temporary.map(\.0).joined(separator: ", ")
            return toBadmail(work, name: name, reason: "not delivered to:\n" + reason + requeued)
        } catch let e as StoreError where e.isTemporary {
            return .retryLater
        } catch {
            return toBadmail(work, name: name, reason: "\(error)")
        }
    }

    /// Writes a pickup file for `recipients` alone (the same sender and message) under a dot name, which scans skip,
    /// and renames it into place.
    private func requeue(_ work: StorePath, name: String, sender: String, recipients: [String], bodyOffset: Int64) throws {
        let base = String(decoding: Array(name.utf8.prefix(200)), as: UTF8.self).replacingOccurrences(of: "\u{FFFD}", with: "")
        let target = "\(base).retry-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        let staging = try Self.pickup.appending(".\(target)")
        var header = "x-sender: <\(sender)>\r\n"
        for recipient in recipients { header += "x-receiver: <\(recipient)>\r\n" }
        let out = try volume.createFile(staging, exclusive: true)
        do {
            try out.write(Array(header.utf8))
            let input = try volume.openForReading(work)
            defer { input.close() }
            var offset = bodyOffset
            while true {
                let chunk = try input.read(at: offset, count: 64 * 1024)
                if chunk.isEmpty { break }
                try out.write(chunk)
                offset += Int64(chunk.count)
            }
            try out.fsync()
            try out.close()
        } catch {
            try? out.close()
            try? volume.unlink(staging)
            throw error
        }
        try volume.renameChecked(staging, to: try Self.pickup.appending(target))
    }

    private func toBadmail(_ work: StorePath, name: String, reason: String) -> Outcome {
        do {
            let target = try Self.badmail.appending(name)
            try volume.rename(work, to: target)
            try volume.writeFile(try Self.badmail.appending(name + MailStore.badmailReasonSuffix), Array((reason + "\n").utf8), exclusive: false)
            logger.notice("pickup file moved to badmail", metadata: ["pickup.file": .string(name)])
            return .bad
        } catch {
            return .retryLater
        }
    }

    /// The leading `x-sender:` / `x-receiver:` lines (case-insensitive, CRLF or LF) and where the message starts.
    static func parseEnvelope(_ head: [UInt8]) -> (SMTPEnvelope, Int)? {
        var sender = ""
        var receivers: [String] = []
        var offset = 0
        while offset < head.count, let lf = head[offset...].firstIndex(of: 0x0A) {
            var line = String(decoding: head[offset..<lf], as: UTF8.self)
            if line.hasSuffix("\r") { line.removeLast() }
            let lower = line.lowercased()
            if lower.hasPrefix("x-sender:") {
                sender = Self.address(line.dropFirst(9))
            } else if lower.hasPrefix("x-receiver:") {
                let r = Self.address(line.dropFirst(11))
                if !r.isEmpty { receivers.append(r) }
            } else {
                break
            }
            offset = lf + 1
        }
        guard !receivers.isEmpty else { return nil }
        return (SMTPEnvelope(helo: "pickup", from: sender, recipients: receivers), offset)
    }

    static func address(_ s: Substring) -> String {
        var t = s.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("<") && t.hasSuffix(">") { t = String(t.dropFirst().dropLast()) }
        return t
    }
}
