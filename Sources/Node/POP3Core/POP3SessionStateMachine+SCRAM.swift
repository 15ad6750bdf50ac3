/// AUTH SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677; channel binding RFC 5929, RFC 9266) in the pure
/// machine: it parses the client's messages, asks the handler for the account's keys (`.lookupSCRAM`), checks the
/// channel binding, the nonce and the proof, and sends the server signature. POP3 has no "additional data with
/// success" (RFC 5034 §4), so the server-final message is a continuation the client answers with an empty line;
/// then `.authenticate(.scram(...))` takes the mailbox like any other login, and a wrong proof goes the same way, so
/// that it is answered after the same failure delay as a wrong password.
extension POP3SessionStateMachine {
    /// A SCRAM exchange between the client-first message and the server-final message.
    struct SCRAMExchange: Sendable, Equatable {
        var plus: Bool
        var clientFirst: SCRAMClientFirst
        /// What "c=" must decode to: the gs2-header, then the channel binding data with -PLUS.
        var expectedBinding: [UInt8]
        var nonce: String
        var keys: SCRAMServerKeys?
        var serverFirst: [UInt8] = []
    }

    /// The mechanisms' availability on this connection.
    var scramOffered: Bool { configuration.scramEnabled }
    /// -PLUS needs TLS and a binding this connection can compute.
    var scramPlusOffered: Bool { configuration.scramEnabled && configuration.isTLS && !configuration.channelBindings.isEmpty }

    mutating func startSCRAM(plus: Bool, initialResponse: String?) -> POP3Action {
        guard plus ? scramPlusOffered : scramOffered else { return badCommand(text(.unsupportedMechanism)) }
        guard let initialResponse else {
            state = .sasl(.scramClientFirst(plus: plus))
            return .send(.continuation(""))
        }
        return saslResponse(Array(initialResponse.utf8), step: .scramClientFirst(plus: plus))
    }

    /// A decoded client response in a SCRAM step.
    mutating func scramResponse(_ data: [UInt8], step: SASLStep) -> POP3Action {
        switch step {
        case .scramClientFirst(let plus):
            return scramClientFirst(data, plus: plus)
        case .scramClientFinal(let exchange):
            return scramClientFinal(data, exchange)
        case .scramServerFinal(let user):
            // RFC 5034 §4: the client answers the server-final continuation with an empty response.
            guard data.isEmpty else { return scramFailure(.otherError) }
            state = .authenticating
            return .authenticate(.scram(user: user, proofValid: true))
        case .plain, .loginUser, .loginPassword, .cramMD5, .bearer, .bearerFailed, .ntlmNegotiate, .ntlmAuthenticate:
            return .none
        }
    }

    private mutating func scramClientFirst(_ data: [UInt8], plus: Bool) -> POP3Action {
        let first: SCRAMClientFirst
        do {
            first = try SCRAMClientFirst(parsing: data)
        } catch {
            return scramFailure(error)
        }
        var expected = first.gs2Header
        switch first.binding {
        case .unsupported:
            if plus { return scramFailure(.channelBindingNotSupported) }
        case .clientOnly:
            // RFC 5802 §6: a client that would bind but believes the server cannot is being downgraded.
            if plus { return scramFailure(.channelBindingNotSupported) }
            if scramPlusOffered { return scramFailure(.serverDoesSupportChannelBinding) }
        case .required(let name):
            guard plus else { return scramFailure(.channelBindingNotSupported) }
            guard let type = SCRAMChannelBindingType(rawValue: name), let data = configuration.channelBindings[type] else {
                return scramFailure(.unsupportedChannelBindingType)
            }
            expected += data
        }
        if let authzid = first.authorizationID, authzid != first.user {
            return badCommand(.err(.auth, text(.authorizationIdentityMismatch)))
        }
        let exchange = SCRAMExchange(plus: plus, clientFirst: first, expectedBinding: expected,
                                     nonce: first.nonce + configuration.scramNonce)
        state = .lookingUpSCRAM(exchange)
        return .lookupSCRAM(user: first.user)
    }

    /// The handler's answer to `.lookupSCRAM`: the account's keys (or keys that match no password, for a name that is
    /// no account here, so that the exchange looks the same), or a store that cannot answer.
    public mutating func scramKeysLoaded(_ result: SCRAMLookup) -> POP3Action {
        guard case .lookingUpSCRAM(var exchange) = state else { return .none }
        switch result {
        case .unavailable(let text):
            state = .authorization(user: nil)
            return .send(.err(.sysTemp, text))
        case .keys(let keys):
            exchange.keys = keys
            exchange.serverFirst = SCRAMServerMessage.first(nonce: exchange.nonce, salt: keys.salt, iterations: keys.iterations)
            state = .sasl(.scramClientFinal(exchange))
            return .send(.continuation(SASLCodec.encode(exchange.serverFirst)))
        }
    }

    private mutating func scramClientFinal(_ data: [UInt8], _ exchange: SCRAMExchange) -> POP3Action {
        let final: SCRAMClientFinal
        do {
            final = try SCRAMClientFinal(parsing: data)
        } catch {
            return scramFailure(error)
        }
        guard final.channelBinding == exchange.expectedBinding else { return scramFailure(.channelBindingsDontMatch) }
        guard final.nonce == exchange.nonce else { return scramFailure(.invalidEncoding) }
        guard let keys = exchange.keys else { return scramFailure(.otherError) }
        let authMessage = exchange.clientFirst.bare + [0x2C] + exchange.serverFirst + [0x2C] + final.withoutProof
        guard keys.verify(proof: final.proof, authMessage: authMessage) else {
            // A wrong password: answered by the handler after the failure delay, like any other.
            state = .authenticating
            return .authenticate(.scram(user: exchange.clientFirst.user, proofValid: false))
        }
        state = .sasl(.scramServerFinal(user: exchange.clientFirst.user))
        return .send(.continuation(SASLCodec.encode(SCRAMServerMessage.final(signature: keys.serverSignature(authMessage: authMessage)))))
    }

    /// A malformed or refused exchange: `-ERR [AUTH]` with the RFC 5802 error name, counted as a bad command.
    private mutating func scramFailure(_ error: SCRAMError) -> POP3Action {
        state = .authorization(user: nil)
        return badCommand(.err(.auth, "SCRAM: \(error.rawValue)"))
    }
}

/// The handler's answer to `.lookupSCRAM`.
public enum SCRAMLookup: Sendable, Equatable {
    case keys(SCRAMServerKeys)
    /// "-ERR [SYS/TEMP] <text>": the store cannot answer.
    case unavailable(String)
}
