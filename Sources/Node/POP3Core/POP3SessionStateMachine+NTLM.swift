/// AUTH NTLM ([MS-POP3] §2.2.1.1, [MS-NLMP]): the seed's "Secure Password Authentication". "+ ", the client's
/// NEGOTIATE, the server's CHALLENGE (with target info, so that clients answer NTLMv2), the client's AUTHENTICATE;
/// then the handler checks the NTLMv2 response (`.authenticate(.ntlm)`). NTLMv1 and LM responses are refused.
extension POP3SessionStateMachine {
    mutating func startNTLM(initialResponse: String?) -> POP3Action {
        guard configuration.ntlmEnabled else { return badCommand(text(.unsupportedMechanism)) }
        guard let initialResponse else {
            state = .sasl(.ntlmNegotiate)
            return .send(.continuation(""))
        }
        return saslResponse(Array(initialResponse.utf8), step: .ntlmNegotiate)
    }

    mutating func ntlmResponse(_ data: [UInt8], step: SASLStep) -> POP3Action {
        switch step {
        case .ntlmNegotiate:
            guard NTLM.isNegotiate(data) else { return badCommand(.err(.auth, "NTLM: malformed NEGOTIATE message")) }
            state = .sasl(.ntlmAuthenticate)
            return .send(.continuation(SASLCodec.encode(NTLM.challenge(serverChallenge: configuration.ntlmChallenge,
                                                                      target: configuration.ntlmTarget))))
        case .ntlmAuthenticate:
            let message: NTLM.Authenticate
            do {
                message = try NTLM.Authenticate(parsing: data)
            } catch .legacyResponse {
                return badCommand(.err(.auth, "NTLM: only NTLMv2 responses are accepted"))
            } catch {
                return badCommand(.err(.auth, "NTLM: malformed AUTHENTICATE message"))
            }
            state = .authenticating
            return .authenticate(.ntlm(user: message.user, domain: message.domain, challenge: configuration.ntlmChallenge,
                                       response: message.ntResponse))
        default:
            return .none
        }
    }
}
