/// LMTP (RFC 2033) or inbound SMTP (RFC 5321).
public enum SMTPMode: Sendable, Equatable { case lmtp, smtp }

public struct SMTPSessionConfiguration: Sendable {
    public var mode: SMTPMode
    public var hostname: String
    public var maxMessageSize: Int
    public var maxRecipients: Int
    /// STARTTLS offered (SMTP with a certificate, not yet TLS).
    public var tlsAvailable: Bool
    public var isTLS: Bool
    public var maxBadCommands: Int
    /// Off (the default): a bare LF or CR in DATA refuses the message (RFC 5321 §2.3.8, Postfix
    /// `smtpd_forbid_bare_newline = reject`). On: each is turned into CRLF and the message accepted (Postfix's
    /// `normalize`); DATA still ends only at <CRLF>.<CRLF>. See `DataDecoder`.
    public var normalizeBareLineEndings: Bool

    public init(mode: SMTPMode, hostname: String = "localhost", maxMessageSize: Int = SMTPLimits.defaultMaxMessageSize,
                maxRecipients: Int = SMTPLimits.defaultMaxRecipients, tlsAvailable: Bool = false, isTLS: Bool = false,
                maxBadCommands: Int = SMTPLimits.defaultMaxBadCommands, normalizeBareLineEndings: Bool = false) {
        self.mode = mode
        self.hostname = hostname
        self.maxMessageSize = maxMessageSize
        self.maxRecipients = maxRecipients
        self.tlsAvailable = tlsAvailable
        self.isTLS = isTLS
        self.maxBadCommands = maxBadCommands
        self.normalizeBareLineEndings = normalizeBareLineEndings
    }
}

public enum SMTPAction: Sendable, Equatable {
    case none
    case send(SMTPReply)
    /// LMTP after DATA: one reply per recipient, in RCPT order (RFC 2033 §4.2).
    case sendAll([SMTPReply])
    case sendAndClose(SMTPReply)
    /// Check one recipient (metabase, mailbox, quota with the announced size), then `recipientChecked`.
    case checkRecipient(address: String, declaredSize: Int?)
    /// Send the 354 and read the message with `makeDataDecoder()`, then `dataReceived(_:)`.
    case receiveData(SMTPReply)
    /// Deliver one copy per recipient (`envelope.recipients`, unique), then `deliveryCompleted` with one reply
    /// per recipient, in that order.
    case deliver(SMTPEnvelope)
    /// Send the 220 and start TLS (RFC 3207).
    case startTLS(SMTPReply)
}

/// The LMTP/SMTP receiver with no I/O: lines and results in, actions out.
public struct SMTPSessionStateMachine: Sendable {
    enum State: Sendable, Equatable {
        case notStarted
        /// Before HELO/EHLO/LHLO.
        case connected
        case ready(helo: String)
        case mail(Transaction)
        case checkingRecipient(Transaction, candidate: String)
        case data(SMTPEnvelope)
        case delivering(SMTPEnvelope)
        case startingTLS
        case closed
    }

    public private(set) var configuration: SMTPSessionConfiguration
    private(set) var state = State.notStarted
    private var badCommands = 0

    public init(configuration: SMTPSessionConfiguration) {
        self.configuration = configuration
    }

    private var protocolName: String { configuration.mode == .lmtp ? "LMTP" : "ESMTP" }

    /// True while the handler must hold further lines (a check, DATA, delivery or TLS is under way).
    public var isBusy: Bool {
        switch state {
        case .checkingRecipient, .data, .delivering, .startingTLS: return true
        case .notStarted, .connected, .ready, .mail, .closed: return false
        }
    }

    public mutating func start() -> SMTPAction {
        state = .connected
        return .send(SMTPReply(220, nil, "\(configuration.hostname) \(protocolName) ready"))
    }

    public mutating func receive(line: [UInt8]) -> SMTPAction {
        switch state {
        case .notStarted, .closed: return .none
        case .checkingRecipient, .data, .delivering, .startingTLS: return .send(SMTPReply(503, "5.5.1", "one command at a time"))
        case .connected, .ready, .mail: break
        }
        switch SMTPCommandParser.parse(line) {
        case .failure(.unknownCommand): return bad(SMTPReply(500, "5.5.2", "command not recognized"))
        case .failure(.syntax(let why)): return bad(SMTPReply(501, "5.5.4", why))
        case .success(let command): return handle(command)
        }
    }

    /// RFC 5321 §4.5.3.1.4.
    public mutating func lineTooLong() -> SMTPAction {
        bad(SMTPReply(500, "5.5.6", "line too long"))
    }

    private mutating func handle(_ command: SMTPCommand) -> SMTPAction {
        switch command {
        case .lhlo(let domain):
            guard configuration.mode == .lmtp else { return bad(SMTPReply(500, "5.5.1", "LHLO is for LMTP; use EHLO")) }
            return greet(domain, extended: true)
        case .ehlo(let domain):
            guard configuration.mode == .smtp else { return bad(SMTPReply(500, "5.5.1", "this is LMTP: use LHLO")) }
            return greet(domain, extended: true)
        case .helo(let domain):
            guard configuration.mode == .smtp else { return bad(SMTPReply(500, "5.5.1", "this is LMTP: use LHLO")) }
            return greet(domain, extended: false)
        case .mail(let from, let parameters):
            guard case .ready(let helo) = state else {
                if case .mail = state { return bad(SMTPReply(503, "5.5.1", "nested MAIL command")) }
                return bad(SMTPReply(503, "5.5.1", "say \(configuration.mode == .lmtp ? "LHLO" : "EHLO") first"))
            }
            var size: Int?
            if let s = parameters["SIZE"] {
                // RFC 1870 §3: size-value = 1*20DIGIT; a value too large for Int is over any limit.
                guard (1...SMTPLimits.maxSizeDigits).contains(s.utf8.count), s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    return bad(SMTPReply(501, "5.5.4", "invalid SIZE"))
                }
                guard let n = Int(s), n <= configuration.maxMessageSize else {
                    return .send(SMTPReply(552, "5.3.4", "message size exceeds the limit of \(configuration.maxMessageSize) bytes"))
                }
                size = n
            }
            if let body = parameters["BODY"] {
                // RFC 6152 §2: BODY=7BIT / BODY=8BITMIME; the keyword without a value is a syntax error.
                guard !body.isEmpty else { return bad(SMTPReply(501, "5.5.4", "BODY needs a value")) }
                guard body.uppercased() == "7BIT" || body.uppercased() == "8BITMIME" else {
                    return bad(SMTPReply(555, "5.5.4", "unsupported BODY \(body)"))
                }
            }
            if let unknown = parameters.keys.first(where: { !["SIZE", "BODY"].contains($0) }) {
                return bad(SMTPReply(555, "5.5.4", "unsupported parameter \(unknown)"))
            }
            state = .mail(Transaction(envelope: SMTPEnvelope(helo: helo, from: from, recipients: []), declaredSize: size))
            return .send(SMTPReply(250, "2.1.0", "sender ok"))
        case .rcpt(let to, let parameters):
            guard case .mail(var transaction) = state else {
                return bad(SMTPReply(503, "5.5.1", "need MAIL before RCPT"))
            }
            guard parameters.isEmpty else { return bad(SMTPReply(555, "5.5.4", "unsupported RCPT parameter")) }
            // RFC 5321 §4.5.3.1.10: counted per accepted RCPT line, duplicates included (as Postfix does).
            guard transaction.envelope.rcptCount < configuration.maxRecipients else {
                return .send(SMTPReply(452, "4.5.3", "too many recipients"))
            }
            if let i = transaction.envelope.index(of: to), i < transaction.acceptedReplies.count {
                // The same mailbox again: no second check, no second copy; the first one's answer.
                transaction.envelope.append(to)
                state = .mail(transaction)
                return .send(transaction.acceptedReplies[i])
            }
            state = .checkingRecipient(transaction, candidate: to)
            return .checkRecipient(address: to, declaredSize: transaction.declaredSize)
        case .data:
            guard case .mail(let transaction) = state else {
                return bad(SMTPReply(503, "5.5.1", "need MAIL before DATA"))
            }
            guard transaction.envelope.rcptCount > 0 else { return bad(SMTPReply(503, "5.5.1", "no valid recipients")) }
            state = .data(transaction.envelope)
            return .receiveData(SMTPReply(354, nil, "end data with <CR><LF>.<CR><LF>"))
        case .rset:
            switch state {
            case .mail(let transaction): state = .ready(helo: transaction.envelope.helo)
            case .notStarted, .connected, .ready, .checkingRecipient, .data, .delivering, .startingTLS, .closed: break
            }
            return .send(SMTPReply(250, "2.0.0", "reset"))
        case .noop:
            return .send(SMTPReply(250, "2.0.0", "ok"))
        case .quit:
            state = .closed
            return .sendAndClose(SMTPReply(221, "2.0.0", "\(configuration.hostname) closing connection"))
        case .vrfy:
            return .send(SMTPReply(252, "2.5.0", "cannot verify, but will accept the message and attempt delivery"))
        case .help:
            return .send(SMTPReply(214, "2.0.0", "see RFC 5321 and RFC 2033"))
        case .starttls:
            guard configuration.mode == .smtp, configuration.tlsAvailable, !configuration.isTLS else {
                return bad(SMTPReply(502, "5.5.1", "STARTTLS not available"))
            }
            if case .mail = state { return bad(SMTPReply(503, "5.5.1", "STARTTLS inside a transaction")) }
            state = .startingTLS
            return .startTLS(SMTPReply(220, "2.0.0", "ready to start TLS"))
        }
    }

    private mutating func greet(_ domain: String, extended: Bool) -> SMTPAction {
        if case .mail = state { return bad(SMTPReply(503, "5.5.1", "transaction in progress: RSET first")) }
        state = .ready(helo: domain)
        guard extended else { return .send(SMTPReply(250, nil, configuration.hostname)) }
        var lines = [configuration.hostname, "PIPELINING", "8BITMIME", "SIZE \(configuration.maxMessageSize)", "ENHANCEDSTATUSCODES"]
        if configuration.mode == .smtp && configuration.tlsAvailable && !configuration.isTLS { lines.append("STARTTLS") }
        return .send(SMTPReply(code: 250, enhanced: nil, lines: lines))
    }

    /// The handler's verdict on a RCPT: a positive reply adds the recipient.
    public mutating func recipientChecked(_ reply: SMTPReply) -> SMTPAction {
        guard case .checkingRecipient(var transaction, let candidate) = state else { return .none }
        if reply.isPositive {
            let i = transaction.envelope.append(candidate)
            if i == transaction.acceptedReplies.count { transaction.acceptedReplies.append(reply) }
        }
        state = .mail(transaction)
        return .send(reply)
    }

    /// A decoder for the DATA that `.receiveData` announced, with this session's size limit and bare line
    /// end policy.
    public func makeDataDecoder() -> DataDecoder {
        DataDecoder(maxSize: configuration.maxMessageSize, normalizeBareLineEndings: configuration.normalizeBareLineEndings)
    }

    /// RFC 5321 §2.3.8, after Postfix's `smtpd_forbid_bare_newline = reject` ("550 5.5.2 Error: bare <LF>
    /// received"): permanent (the same bytes would fail again), 5.5.2 "syntax error". The message is refused
    /// for every recipient once the real <CRLF>.<CRLF> was read, so the session stays in step.
    public static let bareLineEndingReply = SMTPReply(550, "5.5.2", "message refused: bare <LF> or <CR> received (RFC 5321 section 2.3.8)")
    /// RFC 1870 §6.2 / RFC 3463: over the size limit.
    public static let tooLargeReply = SMTPReply(552, "5.3.4", "message too large")

    /// The end of DATA was read (`DataDecoder.outcome`). Anything but `.complete` refuses the message for
    /// every recipient, nothing delivered.
    public mutating func dataReceived(_ outcome: DataOutcome) -> SMTPAction {
        guard case .data(let envelope) = state else { return .none }
        switch outcome {
        case .complete:
            state = .delivering(envelope)
            return .deliver(envelope)
        case .tooLarge:
            state = .ready(helo: envelope.helo)
            return replies(envelope, Array(repeating: Self.tooLargeReply, count: envelope.recipients.count))
        case .bareLineEnding:
            state = .ready(helo: envelope.helo)
            return replies(envelope, Array(repeating: Self.bareLineEndingReply, count: envelope.recipients.count))
        }
    }

    /// One reply per (unique) recipient, in `envelope.recipients` order. LMTP sends one per accepted RCPT line,
    /// a duplicate getting its recipient's reply (RFC 2033 §4.2); SMTP sends one, which the handler makes
    /// all-or-nothing (it takes back the copies already written when any recipient failed).
    public mutating func deliveryCompleted(_ perRecipient: [SMTPReply]) -> SMTPAction {
        guard case .delivering(let envelope) = state else { return .none }
        state = .ready(helo: envelope.helo)
        return replies(envelope, perRecipient)
    }

    /// Failure while reading DATA (the store failed under the spool): `reply` for every recipient.
    public mutating func dataFailed(_ reply: SMTPReply) -> SMTPAction {
        guard case .data(let envelope) = state else { return .none }
        state = .ready(helo: envelope.helo)
        return replies(envelope, Array(repeating: reply, count: envelope.recipients.count))
    }

    private func replies(_ envelope: SMTPEnvelope, _ perRecipient: [SMTPReply]) -> SMTPAction {
        let list = envelope.perRCPT(perRecipient, missing: SMTPReply(451, "4.3.0", "no result for this recipient, try again later"))
        switch configuration.mode {
        case .lmtp:
            return .sendAll(list)
        case .smtp:
            return .send(list.first { !$0.isPositive } ?? list.first ?? SMTPReply(250, "2.0.0", "ok"))
        }
    }

    /// RFC 3207 §4.2: after TLS the session starts afresh.
    public mutating func tlsEstablished() -> SMTPAction {
        configuration.isTLS = true
        state = .connected
        return .none
    }

    public mutating func timedOut() -> SMTPAction {
        state = .closed
        return .sendAndClose(SMTPReply(421, "4.4.2", "\(configuration.hostname) idle too long, closing"))
    }

    public mutating func shuttingDown() -> SMTPAction {
        state = .closed
        return .sendAndClose(SMTPReply(421, "4.3.2", "\(configuration.hostname) shutting down, try again later"))
    }

    private mutating func bad(_ reply: SMTPReply) -> SMTPAction {
        badCommands += 1
        if badCommands >= configuration.maxBadCommands {
            state = .closed
            return .sendAndClose(SMTPReply(421, "4.7.0", "too many errors, closing"))
        }
        return .send(reply)
    }
}

/// One MAIL transaction while recipients are named.
struct Transaction: Sendable, Equatable {
    var envelope: SMTPEnvelope
    var declaredSize: Int?
    /// The positive RCPT reply of each recipient in `envelope.recipients`: a duplicate RCPT gets it again.
    var acceptedReplies: [SMTPReply] = []
}
