import Foundation
import Metrics
import SMTPCore
import SharedStore

/// Recipient checks and delivery for the LMTP/SMTP receivers and the pickup folder. Every method blocks
/// (store calls): run on the thread pool.
public final class InboundDelivery: Sendable {
    public let store: MailStore
    public let hostname: String
    /// Which recipients can take mail (the store, and the account directory where one is configured).
    public let recipients: RecipientResolver
    static let copyChunk = 64 * 1024

    public init(store: MailStore, hostname: String, recipients: RecipientResolver? = nil) {
        self.store = store
        self.hostname = hostname
        self.recipients = recipients ?? RecipientResolver(store: store)
    }

    /// RCPT: never an open relay (a domain outside the metabase gets 550 5.7.1), unknown mailboxes 550 5.1.1,
    /// a mailbox that cannot take the announced size 552 5.2.2, store trouble 451 4.3.0, an account directory that
    /// cannot answer 451 4.4.3.
    public func check(recipient: String, declaredSize: Int?) -> SMTPReply {
        do {
            guard let at = recipient.lastIndex(of: "@") else {
                return SMTPReply(550, "5.1.3", "bad recipient address syntax")
            }
            let domain = recipient[recipient.index(after: at)...].lowercased()
            guard (try? Names.validateDomain(domain)) != nil, try store.isDomainAccepted(domain) else {
                return SMTPReply(550, "5.7.1", "relaying denied: \(domain) is not served here")
            }
            guard let address = try? MailboxAddress(parsing: recipient) else {
                return SMTPReply(550, "5.1.1", "no such mailbox here")
            }
            switch try recipients.resolve(address) {
            case .deliverable: break
            case .unknown: return SMTPReply(550, "5.1.1", "no such mailbox here")
            case .unavailable: return SMTPReply(451, "4.4.3", "account directory unavailable, try again later")
            }
            // The seed's "deny disk space once the quota has been met", and the announced SIZE (RFC 1870).
            if let (quota, used) = try store.quotaUsage(address), used + Int64(declaredSize ?? 0) > quota || used >= quota {
                return SMTPReply(552, "5.2.2", "mailbox full")
            }
            return SMTPReply(250, "2.1.5", "recipient ok")
        } catch let error as StoreError {
            return Self.reply(for: error)
        } catch {
            return SMTPReply(451, "4.3.0", "temporary failure, try again later")
        }
    }

    /// One copy per recipient, each durable (tmp, fsync, link, directory fsync) before its reply is made.
    /// `atomic` (SMTP, one reply for all): if any recipient fails, the copies already written are taken back
    /// and the failure is the answer, so the sender's retry cannot duplicate.
    /// `id` names the transaction in the Received header and in each "delivered" reply (the session's id and the
    /// transaction's number, so that the MTA's log, the message and Poplar's log lead to each other).
    public func deliver(_ envelope: SMTPEnvelope, spool: Spool, client: String, via protocolName: String, atomic: Bool,
                        id: String? = nil) -> [SMTPReply] {
        let id = id ?? (try? store.messageNamer().next()) ?? String(UInt64.random(in: 0...UInt64.max))
        let header = traceHeader(envelope: envelope, client: client, via: protocolName, id: id)
        var replies: [SMTPReply] = []
        var delivered: [(MailboxAddress, MessageInfo)] = []
        for recipient in envelope.recipients {
            do {
                let address = try MailboxAddress(parsing: recipient)
                let info = try deliverCopy(to: address, header: header, spool: spool)
                delivered.append((address, info))
                replies.append(SMTPReply(250, "2.0.0", "<\(recipient)> delivered as \(id)"))
            } catch let error as StoreError {
                replies.append(Self.reply(for: error))
            } catch {
                replies.append(SMTPReply(451, "4.3.0", "temporary failure, try again later"))
            }
        }
        if atomic, replies.contains(where: { !$0.isPositive }) {
            for (address, info) in delivered { try? store.withdraw(info, from: address) }
            let failure = replies.first { !$0.isPositive && $0.code < 500 } ?? replies.first { !$0.isPositive }!
            return Array(repeating: failure, count: replies.count)
        }
        return replies
    }

    func deliverCopy(to address: MailboxAddress, header: [UInt8], spool: Spool) throws -> MessageInfo {
        let writer = try store.beginDelivery(to: address)
        do {
            try writer.write(header)
            var offset: Int64 = 0
            while offset < spool.size {
                let chunk = try spool.read(at: offset, count: Self.copyChunk)
                if chunk.isEmpty { break }
                try writer.write(chunk)
                offset += Int64(chunk.count)
            }
            return try writer.finish(enforceQuota: true)
        } catch let error as SpoolError {
            writer.abort()
            throw StoreError(code: .io, message: error.description)
        } catch {
            writer.abort()
            throw error
        }
    }

    /// RFC 5321 §4.4: Return-Path and Received, prepended.
    func traceHeader(envelope: SMTPEnvelope, client: String, via protocolName: String, id: String) -> [UInt8] {
        let date = Self.rfc5322Date(Date())
        let helo = envelope.helo.filter { !$0.isNewline }
        return Array("Return-Path: <\(envelope.from)>\r\nReceived: from \(helo) (\(client))\r\n\tby \(hostname) (Poplar) with \(protocolName) id \(id);\r\n\t\(date)\r\n".utf8)
    }

    static func reply(for error: StoreError) -> SMTPReply {
        switch error.code {
        case .quotaExceeded: return SMTPReply(552, "5.2.2", "mailbox full")
        case .quotaContended: return SMTPReply(452, "4.2.2", "mailbox nearly full and receiving other mail, try again later")
        case .notFound, .invalidName: return SMTPReply(550, "5.1.1", "no such mailbox here")
        case .tooLarge: return SMTPReply(552, "5.3.4", "message too large")
        case .noSpace: return SMTPReply(451, "4.3.0", "mail store full, try again later")
        case .unavailable, .io, .alreadyExists, .notEmpty, .corrupt, .permissionDenied, .wrongGUID, .notInitialized, .inUse:
            return SMTPReply(451, "4.3.0", "mail store unavailable, try again later")
        }
    }

    static func rfc5322Date(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return f.string(from: date)
    }
}

extension InboundDelivery {
    /// `poplar_deliveries_total{result}`: one per recipient, `delivered` or the reply's code; LMTP, SMTP and pickup alike.
    static func count(_ replies: [SMTPReply]) {
        for reply in replies {
            Counter(label: "poplar_deliveries_total", dimensions: [("result", reply.isPositive ? "delivered" : "\(reply.code)")]).increment()
        }
    }
}
