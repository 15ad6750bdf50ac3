/// AUTH (RFC 5034 §4) with PLAIN (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195).
extension POP3SessionStateMachine {
    /// Where an AUTH exchange stands: what the next client line answers.
    enum SASLStep: Sendable, Equatable {
        /// PLAIN without an initial response: "+ " was sent.
        case plain
        /// LOGIN: "Username:" was sent.
        case loginUser
        /// LOGIN: "Password:" was sent.
        case loginPassword(user: String)
        /// CRAM-MD5: the challenge was sent.
        case cramMD5
        /// SCRAM: "+ " was sent; the client-first message comes next.
        case scramClientFirst(plus: Bool)
        /// SCRAM: the server-first message was sent; the client-final message comes next.
        case scramClientFinal(SCRAMExchange)
        /// SCRAM: the server-final message (the server's signature) was sent; an empty response comes next.
        case scramServerFinal(user: String)
        /// OAUTHBEARER or XOAUTH2: "+ " was sent; the client's message comes next.
        case bearer(SASLMechanism)
        /// RFC 7628 §3.2.2: the error challenge was sent; the client's dummy response ends the exchange.
        case bearerFailed
        /// NTLM: "+ " was sent; the NEGOTIATE message comes next.
        case ntlmNegotiate
        /// NTLM: the CHALLENGE was sent; the AUTHENTICATE message comes next.
        case ntlmAuthenticate
    }

    /// The mechanisms offered right now: PLAIN and LOGIN only where plaintext is allowed (RFC 2595 §2.1),
    /// CRAM-MD5 and SCRAM only when enabled, SCRAM-SHA-256-PLUS only over TLS with a channel binding.
    var enabledMechanisms: [SASLMechanism] {
        SASLMechanism.allCases.filter { isEnabled($0) }
    }

    func isEnabled(_ mechanism: SASLMechanism) -> Bool {
        switch mechanism {
        case .plain, .login: return plaintextAllowed
        case .cramMD5: return configuration.cramMD5Enabled
        case .scramSHA256: return scramOffered
        case .scramSHA256Plus: return scramPlusOffered
        case .oauthBearer, .xoauth2: return configuration.oauthEnabled && plaintextAllowed
        case .ntlm: return configuration.ntlmEnabled
        }
    }

    mutating func auth(mechanism: String?, initialResponse: String?) -> POP3Action {
        guard let mechanism else {
            // Bare AUTH (sent by Outlook): the enabled mechanisms, as CAPA SASL lists them.
            return .send(.multiline(text(.methodsSupported), enabledMechanisms.map(\.rawValue)))
        }
        guard let m = SASLMechanism(rawValue: mechanism) else {
            return badCommand(text(.unsupportedMechanism))
        }
        if m.isPlaintext && !plaintextAllowed { return .send(plaintextRefusal) }
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
            guard configuration.cramMD5Enabled else { return badCommand(text(.unsupportedMechanism)) }
            guard initialResponse == nil else { return badCommand(text(.cramMD5NoInitialResponse)) }
            state = .sasl(.cramMD5)
            return .send(.continuation(SASLCodec.encode(configuration.cramChallenge)))
        case .scramSHA256, .scramSHA256Plus:
            return startSCRAM(plus: m == .scramSHA256Plus, initialResponse: initialResponse)
        case .oauthBearer, .xoauth2:
            guard configuration.oauthEnabled else { return badCommand(text(.unsupportedMechanism)) }
            guard let initialResponse else {
                state = .sasl(.bearer(m))
                return .send(.continuation(""))
            }
            return saslResponse(Array(initialResponse.utf8), step: .bearer(m))
        case .ntlm:
            return startNTLM(initialResponse: initialResponse)
        }
    }

    /// A client response (or an initial response): "*" cancels, "=" is empty (RFC 5034 §4), else strict base64.
    mutating func saslResponse(_ line: [UInt8], step: SASLStep) -> POP3Action {
        state = .authorization(user: nil)
        if line == [0x2A] {
            return .send(.err(nil, text(.authenticationCancelled)))
        }
        let encoded = String(decoding: line, as: UTF8.self)
        guard let data = encoded == "=" ? [] : SASLCodec.decode(encoded) else {
            return badCommand(text(.invalidBase64))
        }
        switch step {
        case .plain:
            // RFC 4616 §2: [authzid] NUL authcid NUL passwd.
            let parts = data.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[1].isEmpty else {
                return badCommand(text(.malformedPlain))
            }
            guard let authzid = saslString(parts[0]), let authcid = saslString(parts[1]), let password = saslString(parts[2]) else {
                return badCommand(text(.invalidUTF8))
            }
            guard let user = preparedUser(authcid), let password = preparedPassword(password) else {
                return badCommand(.err(.auth, text(.credentialsNotAcceptable)))
            }
            // After UTF8 the authzid is prepared like the authcid before the two are compared.
            guard authzid.isEmpty || preparedUser(authzid) == user else {
                return badCommand(.err(.auth, text(.authorizationIdentityMismatch)))
            }
            state = .authenticating
            return .authenticate(.password(user: user, password: password))
        case .loginUser:
            guard let name = saslString(data[...]) else { return badCommand(text(.invalidUTF8)) }
            guard let user = preparedUser(name) else { return badCommand(.err(.auth, text(.credentialsNotAcceptable))) }
            state = .sasl(.loginPassword(user: user))
            return .send(.continuation(SASLCodec.encode("Password:")))
        case .loginPassword(let user):
            guard let decoded = saslString(data[...]) else { return badCommand(text(.invalidUTF8)) }
            guard let password = preparedPassword(decoded) else { return badCommand(.err(.auth, text(.credentialsNotAcceptable))) }
            state = .authenticating
            return .authenticate(.password(user: user, password: password))
        case .cramMD5:
            // RFC 2195 §2: user SP digest (the user name may contain spaces: the digest is after the last one).
            let response = String(decoding: data, as: UTF8.self)
            guard let space = response.lastIndex(of: " "), space != response.startIndex else {
                return badCommand(text(.malformedCRAMMD5))
            }
            let user = String(response[..<space])
            let digest = String(response[response.index(after: space)...]).lowercased()
            state = .authenticating
            return .authenticate(.cramMD5(user: user, digest: digest, challenge: configuration.cramChallenge))
        case .scramClientFirst, .scramClientFinal, .scramServerFinal:
            return scramResponse(data, step: step)
        case .bearer(let mechanism):
            return bearerResponse(data, mechanism: mechanism)
        case .bearerFailed:
            // RFC 7628 §3.2.2: whatever the client answers to the error challenge, the exchange fails.
            return badCommand(.err(.auth, "invalid token"))
        case .ntlmNegotiate, .ntlmAuthenticate:
            return ntlmResponse(data, step: step)
        }
    }
}
