/// TRANSACTION (RFC 1939 §5, §7): the fixed message list and the deletion marks.
extension POP3SessionStateMachine {
    struct Transaction: Sendable, Equatable {
        var mailbox: String
        /// Fixed for the session: message n is `messages[n - 1]` (RFC 1939 §5).
        var messages: [POP3Message]
        /// 1-based message numbers marked by DELE.
        var deleted: Set<Int> = []
        /// 1-based message numbers retrieved with RETR (deleted at QUIT under EXPIRE 0).
        var retrieved: Set<Int> = []

        /// Messages and octets not marked as deleted (STAT, RSET, the login reply).
        var visible: (count: Int, octets: Int64) {
            var count = 0
            var octets: Int64 = 0
            for (i, m) in messages.enumerated() where !deleted.contains(i + 1) {
                count += 1
                octets += m.size
            }
            return (count, octets)
        }

        /// Message n, unless out of range or marked as deleted.
        func message(_ n: Int) -> POP3Message? {
            guard n >= 1, n <= messages.count, !deleted.contains(n) else { return nil }
            return messages[n - 1]
        }

        /// (number, message) for every message not marked as deleted, in order.
        var listed: [(Int, POP3Message)] {
            messages.enumerated().compactMap { deleted.contains($0.offset + 1) ? nil : ($0.offset + 1, $0.element) }
        }
    }

    mutating func transaction(_ command: POP3Command, _ t: Transaction) -> POP3Action {
        var t = t
        switch command {
        case .stat:
            let (count, octets) = t.visible
            return .send(.ok("\(count) \(octets)"))
        case .list(nil):
            let (count, octets) = t.visible
            return .send(.multiline(text(.listing(count: count, octets: octets)), t.listed.map { "\($0.0) \($0.1.size)" }))
        case .list(let n?):
            guard let m = t.message(n) else { return noSuchMessage() }
            return .send(.ok("\(n) \(m.size)"))
        case .uidl(nil):
            return .send(.multiline("", t.listed.map { "\($0.0) \($0.1.uidl)" }))
        case .uidl(let n?):
            guard let m = t.message(n) else { return noSuchMessage() }
            return .send(.ok("\(n) \(m.uidl)"))
        case .retr(let n):
            guard let m = t.message(n) else { return noSuchMessage() }
            if configuration.deleteRetrievedOnQuit {
                t.retrieved.insert(n)
                state = .transaction(t)
            }
            return .retrieve(index: n, message: m, topBodyLines: nil)
        case .top(let n, let lines):
            guard let m = t.message(n) else { return noSuchMessage() }
            return .retrieve(index: n, message: m, topBodyLines: lines)
        case .dele(let n):
            guard t.message(n) != nil else { return noSuchMessage() }
            t.deleted.insert(n)
            state = .transaction(t)
            return .send(.ok(text(.messageDeleted(n))))
        case .noop:
            return .send(.ok(""))
        case .rset:
            t.deleted.removeAll()
            state = .transaction(t)
            let (count, octets) = t.visible
            return .send(.ok(text(.maildrop(count: count, octets: octets))))
        case .capa:
            return .send(capabilities())
        case .quit:
            state = .update(t)
            return .update(deletions: t.deleted.union(t.retrieved).sorted().map { t.messages[$0 - 1] })
        case .lang(let range):
            // RFC 6856 §3: LANG is valid in TRANSACTION too.
            return lang(range)
        case .user, .pass, .apop, .auth, .stls, .utf8:
            // RFC 6856 §2: UTF8 is an AUTHORIZATION command.
            return badCommand(text(.notValidAfterLogin(command: command.name)))
        }
    }

    /// RFC 1939 §5: out of range or marked as deleted. Not counted as a bad command: clients probe.
    func noSuchMessage() -> POP3Action {
        .send(.err(nil, text(.noSuchMessage)))
    }
}
