/// AUTHORIZATION (RFC 1939 §4, §7; RFC 2449 §5; RFC 2595 §4). AUTH is in `+SASL`.
extension POP3SessionStateMachine {
    /// RFC 2595 §2.1, RFC 3206 §5: plaintext credentials refused on this connection.
    static let plaintextRefusal = POP3Response.err(.auth, POP3Text.plaintextDisallowed.localized(.standard))
    /// `plaintextRefusal` in the session's language.
    var plaintextRefusal: POP3Response { .err(.auth, text(.plaintextDisallowed)) }

    mutating func authorization(_ command: POP3Command, user: String?) -> POP3Action {
        // RFC 1939 §7: PASS only immediately after a successful USER; any other command cancels the USER.
        state = .authorization(user: nil)
        switch command {
        case .user(let name):
            guard plaintextAllowed else { return .send(plaintextRefusal) }
            guard let name = preparedUser(name) else { return badCommand(.err(.auth, text(.credentialsNotAcceptable))) }
            userGiven = true
            state = .authorization(user: name)
            // Never reveals whether the name exists.
            return .send(.ok(text(.sendPass)))
        case .pass(let password):
            guard let user else { return badCommand(text(.passMustFollowUser)) }
            guard plaintextAllowed else { return .send(plaintextRefusal) }
            guard let password = preparedPassword(password) else { return badCommand(.err(.auth, text(.credentialsNotAcceptable))) }
            state = .authenticating
            return .authenticate(.password(user: user, password: password))
        case .apop(let name, let digest):
            guard let timestamp = configuration.apopTimestamp else { return badCommand(text(.apopNotAvailable)) }
            state = .authenticating
            return .authenticate(.apop(user: name, digest: digest.lowercased(), timestamp: timestamp))
        case .auth(let mechanism, let initialResponse):
            return auth(mechanism: mechanism, initialResponse: initialResponse)
        case .capa:
            return .send(capabilities())
        case .stls:
            guard configuration.tlsAvailable, !configuration.isTLS else {
                return badCommand(text(configuration.isTLS ? .tlsAlreadyActive : .stlsNotAvailable))
            }
            guard !userGiven else { return badCommand(text(.stlsBeforeUser)) }
            state = .startingTLS
            return .startTLS(.ok(text(.beginTLS)))
        case .quit:
            // RFC 1939 §6: QUIT in AUTHORIZATION closes without UPDATE.
            state = .closed
            return .sendAndClose(.ok(text(.bye)))
        case .utf8:
            // RFC 6856 §2: AUTHORIZATION only; a second UTF8 changes nothing and is answered alike.
            utf8Mode = true
            return .send(.ok(text(.utf8Enabled)))
        case .lang(let range):
            return lang(range)
        case .stat, .list, .retr, .dele, .noop, .rset, .top, .uidl:
            // RFC 1939 §5: TRANSACTION commands, NOOP included.
            return badCommand(text(.notValidBeforeLogin(command: command.name)))
        }
    }
}
