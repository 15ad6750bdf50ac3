/// Where a session is (RFC 1939 §3), as the handler needs to know it.
public enum POP3Phase: Sendable, Equatable {
    case authorization
    /// Credentials are being checked, or TLS negotiated: the handler holds further lines.
    case authenticating
    case transaction
    case update
    case closed
}

/// What the handler must do next.
public enum POP3Action: Sendable, Equatable {
    case none
    case send(POP3Response)
    case sendAndClose(POP3Response)
    /// Verify, take the mailbox, then call `authenticationCompleted`.
    case authenticate(POP3Credentials)
    /// Send the reply, then start TLS; bytes already buffered after STLS must not be read as TLS data.
    case startTLS(POP3Response)
    /// RETR (`topBodyLines` nil) or TOP: send "+OK …" and stream the message with `MessageStreamer`.
    case retrieve(index: Int, message: POP3Message, topBodyLines: Int?)
    /// QUIT in TRANSACTION: fence, delete these, release, then call `updateCompleted`.
    case update(deletions: [POP3Message])
}

public struct POP3SessionConfiguration: Sendable {
    public var greeting: String
    /// "<…@host>", unique per connection; APOP is offered only when set (RFC 1939 §7).
    public var apopTimestamp: String?
    /// The CRAM-MD5 challenge, "<…@host>" (RFC 2195).
    public var cramChallenge: String
    /// CRAM-MD5 offered (CAPA SASL, bare AUTH). Off by default: it needs the sealed secret that only mailboxes
    /// created with `--apop` keep, and clients such as curl pick it when offered and do not fall back.
    public var cramMD5Enabled: Bool
    /// STLS can be offered (a certificate is configured).
    public var tlsAvailable: Bool
    public var isTLS: Bool
    /// USER/PASS and AUTH PLAIN/LOGIN allowed without TLS (loopback peer or configuration; RFC 2595 §2.1).
    public var plaintextAllowedWithoutTLS: Bool
    /// CAPA IMPLEMENTATION, only when set (RFC 2449 §6.9).
    public var implementation: String?
    public var maxBadCommands: Int

    public init(
        greeting: String = "POP3 server ready",
        apopTimestamp: String? = nil,
        cramChallenge: String = "<0.0@localhost>",
        cramMD5Enabled: Bool = false,
        tlsAvailable: Bool = false,
        isTLS: Bool = false,
        plaintextAllowedWithoutTLS: Bool = true,
        implementation: String? = nil,
        maxBadCommands: Int = POP3Limits.defaultMaxBadCommands
    ) {
        self.greeting = greeting
        self.apopTimestamp = apopTimestamp
        self.cramChallenge = cramChallenge
        self.cramMD5Enabled = cramMD5Enabled
        self.tlsAvailable = tlsAvailable
        self.isTLS = isTLS
        self.plaintextAllowedWithoutTLS = plaintextAllowedWithoutTLS
        self.implementation = implementation
        self.maxBadCommands = maxBadCommands
    }
}

/// A POP3 session with no I/O: framed lines and results in, actions out (RFC 1939 §3–§6, RFC 2449, RFC 2595,
/// RFC 5034). The handler executes the actions; every RFC clause is tested against this type without sockets.
public struct POP3SessionStateMachine: Sendable {
    enum SASLStep: Sendable, Equatable {
        case plain
        case loginUser
        case loginPassword(user: String)
        case cramMD5
    }

    struct Transaction: Sendable, Equatable {
        var mailbox: String
        var messages: [POP3Message]
        var deleted: Set<Int> = []  // 1-based message numbers

        var visible: (count: Int, octets: Int64) {
            var count = 0
            var octets: Int64 = 0
            for (i, m) in messages.enumerated() where !deleted.contains(i + 1) {
                count += 1
                octets += m.size
            }
            return (count, octets)
        }

        func message(_ n: Int) -> POP3Message? {
            guard n >= 1, n <= messages.count, !deleted.contains(n) else { return nil }
            return messages[n - 1]
        }
    }

    enum State: Sendable, Equatable {
        case notStarted
        /// `user` is the name from a successful USER, waiting for PASS.
        case authorization(user: String?)
        case sasl(SASLStep)
        case authenticating(mailboxSoFar: Transaction?)
        case startingTLS
        case transaction(Transaction)
        case update(Transaction)
        case closed
    }

    private(set) var configuration: POP3SessionConfiguration
    private(set) var state: State = .notStarted
    private var badCommands = 0

    public init(configuration: POP3SessionConfiguration) {
        self.configuration = configuration
    }

    public var phase: POP3Phase {
        switch state {
        case .notStarted, .authorization, .sasl: return .authorization
        case .authenticating, .startingTLS: return .authenticating
        case .transaction: return .transaction
        case .update: return .update
        case .closed: return .closed
        }
    }

    public var isAwaitingSASLResponse: Bool {
        if case .sasl = state { return true }
        return false
    }

    public var mailbox: String? {
        switch state {
        case .transaction(let t), .update(let t): return t.mailbox
        case .notStarted, .authorization, .sasl, .authenticating, .startingTLS, .closed: return nil
        }
    }

    private var plaintextAllowed: Bool { configuration.isTLS || configuration.plaintextAllowedWithoutTLS }

    // MARK: Events

    /// RFC 1939 §4: the greeting, with the APOP timestamp when APOP is offered.
    public mutating func start() -> POP3Action {
        state = .authorization(user: nil)
        var text = configuration.greeting
        if let ts = configuration.apopTimestamp { text += " " + ts }
        return .send(.ok(text))
    }

    public mutating func receive(line: [UInt8]) -> POP3Action {
        switch state {
        case .sasl(let step):
            return saslResponse(line, step: step)
        case .authenticating, .startingTLS:
            return .send(.err(nil, "busy: one command at a time"))
        case .update, .closed, .notStarted:
            return .none
        case .authorization, .transaction:
            break
        }
        let command: POP3Command
        switch POP3CommandParser.parse(line) {
        case .success(let c):
            command = c
        case .failure(.empty):
            return badCommand("empty command")
        case .failure(.unknownCommand):
            return badCommand("unknown command")
        case .failure(.syntax(_, let reason)):
            return badCommand(reason)
        }
        switch state {
        case .authorization(let user):
            return authorization(command, user: user)
        case .transaction(let t):
            return transaction(command, t)
        case .notStarted, .sasl, .authenticating, .startingTLS, .update, .closed:
            return .none
        }
    }

    /// RFC 2449 §4: an over-long line is answered and the session goes on.
    public mutating func lineTooLong() -> POP3Action {
        if case .sasl = state {
            state = .authorization(user: nil)
            return badCommand("authentication line too long, authentication cancelled")
        }
        return badCommand("line too long")
    }

    public mutating func authenticationCompleted(_ outcome: POP3AuthOutcome) -> POP3Action {
        guard case .authenticating = state else { return .none }
        switch outcome {
        case .success(let mailbox, let messages):
            let t = Transaction(mailbox: mailbox, messages: messages)
            state = .transaction(t)
            let (count, octets) = t.visible
            return .send(.ok("\(mailbox) has \(count) message\(count == 1 ? "" : "s") (\(octets) octets)"))
        case .badCredentials:
            state = .authorization(user: nil)
            return badCommand(.err(.auth, "invalid user name or password"))
        case .inUse(let text):
            state = .authorization(user: nil)
            return .send(.err(.inUse, text))
        case .adminLocked:
            state = .authorization(user: nil)
            return .send(.err(.sysPerm, "mailbox locked by the administrator"))
        case .temporaryFailure(let text):
            state = .authorization(user: nil)
            return .send(.err(.sysTemp, text))
        case .plaintextDisallowed:
            state = .authorization(user: nil)
            return .send(Self.plaintextRefusal)
        case .mechanismDisallowed:
            state = .authorization(user: nil)
            return badCommand(.err(.auth, "authentication mechanism not enabled for this mailbox"))
        }
    }

    /// RFC 2595 §4: after STLS the session starts afresh in AUTHORIZATION, over TLS.
    public mutating func tlsEstablished() -> POP3Action {
        configuration.isTLS = true
        configuration.tlsAvailable = false
        state = .authorization(user: nil)
        return .none
    }

    /// RFC 1939 §6: the end of UPDATE.
    public mutating func updateCompleted(_ result: Result<Int, POP3UpdateFailure>) -> POP3Action {
        state = .closed
        switch result {
        case .success(let n):
            return .sendAndClose(.ok("bye (\(n) message\(n == 1 ? "" : "s") deleted)"))
        case .failure(let failure):
            return .sendAndClose(.err(.sysTemp, failure.message))
        }
    }

    /// RFC 1939 §3: the autologout timer closes the session without entering UPDATE.
    public mutating func timedOut() -> POP3Action {
        state = .closed
        return .sendAndClose(.err(nil, "autologout: idle for too long"))
    }

    /// Server shutdown: no UPDATE, the client may retry elsewhere.
    public mutating func shuttingDown() -> POP3Action {
        state = .closed
        return .sendAndClose(.err(.sysTemp, "server shutting down, try again later"))
    }

    // MARK: AUTHORIZATION

    static let plaintextRefusal = POP3Response.err(.auth, "plaintext authentication disallowed without TLS, use STLS")

    private mutating func authorization(_ command: POP3Command, user: String?) -> POP3Action {
        switch command {
        case .user(let name):
            guard plaintextAllowed else { return .send(Self.plaintextRefusal) }
            state = .authorization(user: name)
            return .send(.ok("send PASS"))
        case .pass(let password):
            guard let user else { return badCommand("USER first") }
            guard plaintextAllowed else {
                state = .authorization(user: nil)
                return .send(Self.plaintextRefusal)
            }
            state = .authenticating(mailboxSoFar: nil)
            return .authenticate(.password(user: user, password: password))
        case .apop(let name, let digest):
            guard let timestamp = configuration.apopTimestamp else { return badCommand("APOP not available") }
            state = .authenticating(mailboxSoFar: nil)
            return .authenticate(.apop(user: name, digest: digest.lowercased(), timestamp: timestamp))
        case .auth(let mechanism, let initialResponse):
            return auth(mechanism: mechanism, initialResponse: initialResponse)
        case .capa:
            return .send(capabilities())
        case .stls:
            guard configuration.tlsAvailable, !configuration.isTLS else {
                return badCommand(configuration.isTLS ? "TLS already active" : "STLS not available")
            }
            guard user == nil else { return badCommand("STLS must come before USER") }
            state = .startingTLS
            return .startTLS(.ok("Begin TLS negotiation"))
        case .quit:
            state = .closed
            return .sendAndClose(.ok("bye"))
        case .stat, .list, .retr, .dele, .noop, .rset, .top, .uidl:
            return badCommand("\(command.name) is not valid before login")
        }
    }

    private var enabledMechanisms: [SASLMechanism] {
        SASLMechanism.allCases.filter { $0.isPlaintext ? plaintextAllowed : configuration.cramMD5Enabled }
    }

    /// RFC 5034 §4.
    private mutating func auth(mechanism: String?, initialResponse: String?) -> POP3Action {
        guard let mechanism else {
            return .send(.multiline("methods supported:", enabledMechanisms.map(\.rawValue)))
        }
        guard let m = SASLMechanism(rawValue: mechanism), m.isPlaintext || configuration.cramMD5Enabled else {
            return badCommand("unsupported authentication mechanism")
        }
        if m.isPlaintext && !plaintextAllowed { return .send(Self.plaintextRefusal) }
        switch m {
        case .plain:
            guard let initialResponse else {
                state = .sasl(.plain)
                return .send(.continuation(""))
            }
            return saslResponse(Array(initialResponse.utf8), step: .plain)
        case .login:
            guard let initialResponse else {
                state = .sasl(.loginUser)
                return .send(.continuation(SASLCodec.encode("Username:")))
            }
            return saslResponse(Array(initialResponse.utf8), step: .loginUser)
        case .cramMD5:
            guard initialResponse == nil else { return badCommand("CRAM-MD5 takes no initial response") }
            state = .sasl(.cramMD5)
            return .send(.continuation(SASLCodec.encode(configuration.cramChallenge)))
        }
    }

    private mutating func saslResponse(_ line: [UInt8], step: SASLStep) -> POP3Action {
        if line == [0x2A] {
            state = .authorization(user: nil)
            return .send(.err(nil, "authentication cancelled"))
        }
        let text = String(decoding: line, as: UTF8.self)
        // RFC 5034 §4: "=" is an empty initial response.
        guard let data = text == "=" ? [] : SASLCodec.decode(text) else {
            state = .authorization(user: nil)
            return badCommand("invalid base64 data, authentication cancelled")
        }
        switch step {
        case .plain:
            let parts = data.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else {
                state = .authorization(user: nil)
                return badCommand("malformed PLAIN response")
            }
            let authzid = String(decoding: parts[0], as: UTF8.self)
            let authcid = String(decoding: parts[1], as: UTF8.self)
            let password = String(decoding: parts[2], as: UTF8.self)
            guard authzid.isEmpty || authzid == authcid else {
                state = .authorization(user: nil)
                return badCommand(.err(.auth, "authorization identity must be empty or equal the user"))
            }
            state = .authenticating(mailboxSoFar: nil)
            return .authenticate(.password(user: authcid, password: password))
        case .loginUser:
            let user = String(decoding: data, as: UTF8.self)
            state = .sasl(.loginPassword(user: user))
            return .send(.continuation(SASLCodec.encode("Password:")))
        case .loginPassword(let user):
            state = .authenticating(mailboxSoFar: nil)
            return .authenticate(.password(user: user, password: String(decoding: data, as: UTF8.self)))
        case .cramMD5:
            let response = String(decoding: data, as: UTF8.self)
            guard let space = response.lastIndex(of: " ") else {
                state = .authorization(user: nil)
                return badCommand("malformed CRAM-MD5 response")
            }
            let user = String(response[..<space])
            let digest = String(response[response.index(after: space)...]).lowercased()
            state = .authenticating(mailboxSoFar: nil)
            return .authenticate(.cramMD5(user: user, digest: digest, challenge: configuration.cramChallenge))
        }
    }

    // MARK: TRANSACTION (RFC 1939 §5, §7)

    private mutating func transaction(_ command: POP3Command, _ t: Transaction) -> POP3Action {
        var t = t
        switch command {
        case .stat:
            let (count, octets) = t.visible
            return .send(.ok("\(count) \(octets)"))
        case .list(nil):
            let lines = t.messages.enumerated().filter { !t.deleted.contains($0.offset + 1) }.map { "\($0.offset + 1) \($0.element.size)" }
            let (count, octets) = t.visible
            return .send(.multiline("\(count) messages (\(octets) octets)", lines))
        case .list(let n?):
            guard let m = t.message(n) else { return noSuchMessage() }
            return .send(.ok("\(n) \(m.size)"))
        case .uidl(nil):
            let lines = t.messages.enumerated().filter { !t.deleted.contains($0.offset + 1) }.map { "\($0.offset + 1) \($0.element.uidl)" }
            return .send(.multiline("", lines))
        case .uidl(let n?):
            guard let m = t.message(n) else { return noSuchMessage() }
            return .send(.ok("\(n) \(m.uidl)"))
        case .retr(let n):
            guard let m = t.message(n) else { return noSuchMessage() }
            return .retrieve(index: n, message: m, topBodyLines: nil)
        case .top(let n, let lines):
            guard let m = t.message(n) else { return noSuchMessage() }
            return .retrieve(index: n, message: m, topBodyLines: lines)
        case .dele(let n):
            guard t.message(n) != nil else { return noSuchMessage() }
            t.deleted.insert(n)
            state = .transaction(t)
            return .send(.ok("message \(n) deleted"))
        case .noop:
            return .send(.ok(""))
        case .rset:
            t.deleted.removeAll()
            state = .transaction(t)
            let (count, octets) = t.visible
            return .send(.ok("maildrop has \(count) messages (\(octets) octets)"))
        case .capa:
            return .send(capabilities())
        case .quit:
            state = .update(t)
            let deletions = t.deleted.sorted().map { t.messages[$0 - 1] }
            return .update(deletions: deletions)
        case .user, .pass, .apop, .auth, .stls:
            return badCommand("\(command.name) is not valid after login")
        }
    }

    private func noSuchMessage() -> POP3Action {
        .send(.err(nil, "no such message"))
    }

    // MARK: CAPA (RFC 2449 §5, §6)

    private func capabilities() -> POP3Response {
        var caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "LOGIN-DELAY 0"]
        if case .authorization = phase {
            if plaintextAllowed { caps.append("USER") }
            caps.append("SASL " + enabledMechanisms.map(\.rawValue).joined(separator: " "))
            if configuration.tlsAvailable && !configuration.isTLS { caps.append("STLS") }
        }
        if let implementation = configuration.implementation { caps.append("IMPLEMENTATION \(implementation)") }
        return .multiline("Capability list follows", caps)
    }

    // MARK: Bad commands

    private mutating func badCommand(_ text: String) -> POP3Action {
        badCommand(.err(nil, text))
    }

    private mutating func badCommand(_ response: POP3Response) -> POP3Action {
        badCommands += 1
        if badCommands >= configuration.maxBadCommands {
            state = .closed
            return .sendAndClose(.err(nil, "too many bad commands, closing"))
        }
        return .send(response)
    }
}
