/// A POP3 session with no I/O: framed lines and results in, actions out (RFC 1939 §3–§6, RFC 2449, RFC 2595,
/// RFC 5034, RFC 3206). The handler executes the actions; every RFC clause is tested against this type without
/// sockets. Extensions: `+Authorization` (USER, PASS, APOP, STLS), `+SASL` (AUTH), `+Transaction` (RFC 1939 §5),
/// `+UTF8` (UTF8 and LANG, RFC 6856; the texts come from `POP3Text` in the session's `POP3Language`).
public struct POP3SessionStateMachine: Sendable {
    /// The states, each carrying the data valid in it.
    enum State: Sendable, Equatable {
        /// Before `start()`.
        case notStarted
        /// RFC 1939 §4. `user` is the name from a USER given on the line just before, waiting for PASS.
        case authorization(user: String?)
        /// RFC 5034 §4: an AUTH exchange waits for the client's next response line.
        case sasl(SASLStep)
        /// `.lookupSCRAM` was returned; waiting for `scramKeysLoaded`.
        case lookingUpSCRAM(SCRAMExchange)
        /// `.authenticate` was returned; waiting for `authenticationCompleted`.
        case authenticating
        /// `.startTLS` was returned; waiting for `tlsEstablished`.
        case startingTLS
        /// RFC 1939 §5.
        case transaction(Transaction)
        /// RFC 1939 §6: `.update` was returned; waiting for `updateCompleted`.
        case update(Transaction)
        case closed
    }

    var configuration: POP3SessionConfiguration
    var state: State = .notStarted
    var badCommands = 0
    /// A USER was accepted on this (plaintext or TLS) session: STLS is no longer allowed (nothing of the login
    /// may happen before TLS, RFC 2595 §4).
    var userGiven = false
    /// The login in progress is a bearer token's: a refusal is answered with RFC 7628's error challenge.
    var bearerPending = false
    /// RFC 6856 §2: the client sent UTF8. From then on command lines must be UTF-8, and user names and passwords are
    /// prepared with RFC 8265's profiles before they reach `.authenticate`. Off: the bytes are taken as before.
    var utf8Mode = false
    /// RFC 6856 §3: the language of the human-readable text, chosen by LANG.
    var language = POP3Language.standard

    public init(configuration: POP3SessionConfiguration) {
        self.configuration = configuration
    }

    public var phase: POP3Phase {
        switch state {
        case .notStarted, .authorization, .sasl: return .authorization
        case .authenticating, .lookingUpSCRAM, .startingTLS: return .authenticating
        case .transaction: return .transaction
        case .update: return .update
        case .closed: return .closed
        }
    }

    /// The next line is a SASL response: the handler raises the framer's bound to
    /// `POP3Limits.maxSASLResponseLength` and never logs the line.
    public var isAwaitingSASLResponse: Bool {
        switch state {
        case .sasl: return true
        case .notStarted, .authorization, .authenticating, .lookingUpSCRAM, .startingTLS, .transaction, .update, .closed: return false
        }
    }

    /// The longest line the handler's framer should pass now: a SASL response during AUTH, an AUTH line with an
    /// initial response in AUTHORIZATION, a command otherwise.
    public var maxLineLength: Int {
        switch state {
        case .sasl: return POP3Limits.maxSASLResponseLength
        case .authorization: return POP3Limits.maxAuthCommandLineLength
        case .notStarted, .authenticating, .lookingUpSCRAM, .startingTLS, .transaction, .update, .closed: return POP3Limits.maxCommandLineLength
        }
    }

    /// RFC 6856 §2: UTF8 was accepted on this session (reset by STLS, RFC 2595 §4).
    public var isUTF8: Bool { utf8Mode }

    /// RFC 6856 §3: the language the human-readable text is in now.
    public var textLanguage: POP3Language { language }

    /// `text` in the session's language.
    func text(_ text: POP3Text) -> String { text.localized(language) }

    /// The canonical mailbox name in TRANSACTION and UPDATE, for logs.
    public var mailbox: String? {
        switch state {
        case .transaction(let t), .update(let t): return t.mailbox
        case .notStarted, .authorization, .sasl, .authenticating, .lookingUpSCRAM, .startingTLS, .closed: return nil
        }
    }

    /// Plaintext credentials (USER/PASS, AUTH PLAIN, AUTH LOGIN) are acceptable right now (RFC 2595 §2.1).
    var plaintextAllowed: Bool { configuration.isTLS || configuration.plaintextAllowedWithoutTLS }

    // MARK: Events

    /// RFC 1939 §4: the greeting, with the APOP timestamp when APOP is offered.
    public mutating func start() -> POP3Action {
        state = .authorization(user: nil)
        var text = configuration.greeting
        if let ts = configuration.apopTimestamp { text += " " + ts }
        return .send(.ok(text))
    }

    /// A framed line: a command, or the client's response while an AUTH exchange is in progress.
    public mutating func receive(line: [UInt8]) -> POP3Action {
        switch state {
        case .sasl(let step):
            return saslResponse(line, step: step)
        case .authenticating, .lookingUpSCRAM, .startingTLS:
            // The handler holds lines while it works; one arriving anyway is refused, not queued.
            return .send(.err(nil, text(.busy)))
        case .update, .closed, .notStarted:
            return .none
        case .authorization, .transaction:
            break
        }
        // RFC 6856 §2: after UTF8 a line that is not UTF-8 (RFC 3629) is refused, never decoded with replacements.
        if utf8Mode && String(validating: line, as: UTF8.self) == nil {
            if case .authorization = state { state = .authorization(user: nil) }
            return badCommand(text(.invalidUTF8))
        }
        let command: POP3Command
        switch POP3CommandParser.parse(line) {
        case .success(let c):
            command = c
        case .failure(let error):
            // RFC 1939 §7: PASS only right after USER; a bad line in between cancels the USER.
            if case .authorization = state { state = .authorization(user: nil) }
            switch error {
            case .empty: return badCommand(text(.emptyCommand))
            case .unknownCommand: return badCommand(text(.unknownCommand))
            case .syntax(_, let reason): return badCommand(reason)
            }
        }
        switch state {
        case .authorization(let user):
            return authorization(command, user: user)
        case .transaction(let t):
            return transaction(command, t)
        case .notStarted, .sasl, .authenticating, .lookingUpSCRAM, .startingTLS, .update, .closed:
            return .none
        }
    }

    /// RFC 2449 §4: an over-long line is answered, counted as a bad command, and the session goes on. During an
    /// AUTH exchange it cancels the exchange.
    public mutating func lineTooLong() -> POP3Action {
        switch state {
        case .sasl:
            state = .authorization(user: nil)
            return badCommand(text(.authenticationLineTooLong))
        case .authorization:
            state = .authorization(user: nil)
            return badCommand(text(.lineTooLong))
        case .transaction:
            return badCommand(text(.lineTooLong))
        case .authenticating, .lookingUpSCRAM, .startingTLS:
            return .send(.err(nil, text(.busy)))
        case .notStarted, .update, .closed:
            return .none
        }
    }

    /// The handler's answer to `.authenticate` (RFC 1939 §4, §7; RFC 2449 §8.1.1; RFC 3206).
    public mutating func authenticationCompleted(_ outcome: POP3AuthOutcome) -> POP3Action {
        guard case .authenticating = state else { return .none }
        state = .authorization(user: nil)
        let bearer = bearerPending
        bearerPending = false
        switch outcome {
        case .success(let mailbox, let messages):
            let t = Transaction(mailbox: mailbox, messages: messages)
            state = .transaction(t)
            let (count, octets) = t.visible
            return .send(.ok(text(.loggedIn(mailbox: mailbox, count: count, octets: octets))))
        case .badCredentials:
            if bearer { return bearerRefused() }
            return badCommand(.err(.auth, text(.invalidCredentials)))
        case .inUse(let text):
            return .send(.err(.inUse, text))
        case .adminLocked:
            return .send(.err(.sysPerm, text(.adminLocked)))
        case .temporaryFailure(let text):
            return .send(.err(.sysTemp, text))
        case .plaintextDisallowed:
            return .send(plaintextRefusal)
        case .mechanismDisallowed:
            return badCommand(.err(.auth, text(.mechanismNotEnabled)))
        case .loginDelay(let text):
            return .send(.err(.loginDelay, text))
        }
    }

    /// RFC 2595 §4: after STLS the session starts afresh in AUTHORIZATION, over TLS; returns `.none` (no new
    /// greeting). Only after `.startTLS`; otherwise nothing changes. `channelBindings` are the new TLS channel's, for
    /// SCRAM-SHA-256-PLUS.
    public mutating func tlsEstablished(channelBindings: [SCRAMChannelBindingType: [UInt8]] = [:]) -> POP3Action {
        guard case .startingTLS = state else { return .none }
        configuration.isTLS = true
        configuration.channelBindings = channelBindings
        configuration.tlsAvailable = false
        userGiven = false
        // RFC 2595 §4: the server discards what it learnt from the client before TLS, UTF8 and LANG included.
        utf8Mode = false
        language = .standard
        state = .authorization(user: nil)
        return .none
    }

    /// A channel binding learnt after the session started (tls-exporter, once the handshake is done); only on TLS.
    public mutating func addChannelBinding(_ type: SCRAMChannelBindingType, _ data: [UInt8]) {
        guard configuration.isTLS else { return }
        configuration.channelBindings[type] = data
    }

    /// RFC 1939 §6: the end of UPDATE.
    public mutating func updateCompleted(_ result: Result<Int, POP3UpdateFailure>) -> POP3Action {
        guard case .update = state else { return .none }
        state = .closed
        switch result {
        case .success(let n):
            return .sendAndClose(.ok(text(.updated(deleted: n))))
        case .failure(let failure):
            return .sendAndClose(.err(.sysTemp, failure.message))
        }
    }

    /// RFC 1939 §3: the autologout timer closes the session without entering UPDATE.
    public mutating func timedOut() -> POP3Action {
        if case .closed = state { return .none }
        state = .closed
        return .sendAndClose(.err(nil, text(.autologout)))
    }

    /// Server shutdown: no UPDATE, the client may retry elsewhere (RFC 3206 §4).
    public mutating func shuttingDown() -> POP3Action {
        if case .closed = state { return .none }
        state = .closed
        return .sendAndClose(.err(.sysTemp, text(.shuttingDown)))
    }

    // MARK: CAPA (RFC 2449 §5, §6)

    /// The STLS capability: "indicates this command is present and permitted in the current state" and the command
    /// is "only permitted in AUTHORIZATION state" (RFC 2595 §4), so it is the one capability not announced after login.

    /// RFC 2449 §5: "Capabilities available in the AUTHORIZATION state MUST be announced in both states." USER
    /// (§6.6), SASL (§6.3) and the others are "Announced states: both"; only STLS is left out after login, since its
    /// capability says the command is permitted in the current state (RFC 2595 §4). Nothing of the connection that
    /// decides USER and SASL (TLS, plaintext policy, CRAM-MD5) changes after login, so both lists agree.
    func capabilities() -> POP3Response {
        switch phase {
        case .authorization:
            return .multiline(text(.capabilityList), authorizationCapabilities())
        case .authenticating, .transaction, .update, .closed:
            return .multiline(text(.capabilityList), authorizationCapabilities().filter { $0 != POP3Capabilities.startTLS })
        }
    }

    /// The AUTHORIZATION state's list, as announced on this connection now.
    func authorizationCapabilities() -> [String] {
        var caps = withPolicies(POP3Capabilities.always)
        if plaintextAllowed { caps.append(POP3Capabilities.user) }
        let mechanisms = enabledMechanisms
        if !mechanisms.isEmpty { caps.append(POP3Capabilities.sasl(mechanisms.map(\.rawValue))) }
        if configuration.tlsAvailable && !configuration.isTLS { caps.append(POP3Capabilities.startTLS) }
        if let implementation = configuration.implementation { caps.append(POP3Capabilities.implementation(implementation)) }
        return caps
    }

    // MARK: Bad commands

    mutating func badCommand(_ text: String) -> POP3Action {
        badCommand(.err(nil, text))
    }

    /// Counts a bad command; the one reaching `maxBadCommands` closes the session.
    mutating func badCommand(_ response: POP3Response) -> POP3Action {
        badCommands += 1
        if badCommands >= configuration.maxBadCommands {
            state = .closed
            return .sendAndClose(.err(nil, text(.tooManyBadCommands)))
        }
        return .send(response)
    }
}
