/// AUTHORIZATION (RFC 1939 §4, §7; RFC 2449 §5; RFC 2595 §4). AUTH is in `+SASL`.
extension POP3SessionStateMachine {
    static let plaintextRefusal = POP3Response.err(.auth, "plaintext authentication disallowed without TLS (use STLS)")

    mutating func authorization(_ command: POP3Command, user: String?) -> POP3Action {
        // RFC 1939 §7: PASS only immediately after a successful USER; any other command cancels the USER.
        state = .authorization(user: nil)
        switch command {
        case .user(let name):
            guard plaintextAllowed else { return .send(Self.plaintextRefusal) }
            userGiven = true
            state = .authorization(user: name)
            // Never reveals whether the name exists.
            return .send(.ok("send PASS"))
        case .pass(let password):
            guard let user else { return badCommand("PASS must follow USER") }
            guard plaintextAllowed else { return .send(Self.plaintextRefusal) }
            state = .authenticating
            return .authenticate(.password(user: user, password: password))
        case .apop(let name, let digest):
            guard let timestamp = configuration.apopTimestamp else { return badCommand("APOP not available") }
            state = .authenticating
            return .authenticate(.apop(user: name, digest: digest.lowercased(), timestamp: timestamp))
        case .auth(let mechanism, let initialResponse):
            return auth(mechanism: mechanism, initialResponse: initialResponse)
        case .capa:
            return .send(capabilities())
        case .stls:
            guard configuration.tlsAvailable, !configuration.isTLS else {
                return badCommand(configuration.isTLS ? "TLS already active" : "STLS not available")
            }
            guard !userGiven else { return badCommand("STLS must come before USER") }
            state = .startingTLS
            return .startTLS(.ok("Begin TLS negotiation"))
        case .quit:
            // RFC 1939 §6: QUIT in AUTHORIZATION closes without UPDATE.
            state = .closed
            return .sendAndClose(.ok("bye"))
        case .stat, .list, .retr, .dele, .noop, .rset, .top, .uidl:
            // RFC 1939 §5: TRANSACTION commands, NOOP included.
            return badCommand("\(command.name) is not valid before login")
        }
    }
}
