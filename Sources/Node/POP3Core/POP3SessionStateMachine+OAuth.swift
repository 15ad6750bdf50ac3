/// AUTH OAUTHBEARER (RFC 7628) and XOAUTH2 in the pure machine: the client's message is parsed here and the token
/// goes to the handler (`.authenticate(.bearer)`), which verifies it. A token refused is answered as RFC 7628 §3.2.2
/// asks: an error challenge (JSON, base64), the client's dummy response, then `-ERR [AUTH]`.
extension POP3SessionStateMachine {
    /// RFC 7628 §3.2.2: the JSON the server sends when a token is refused. No scope or discovery URL is sent: Poplar
    /// checks tokens offline and names no authorization server.
    static let bearerErrorChallenge = #"{"status":"invalid_token"}"#

    mutating func bearerResponse(_ data: [UInt8], mechanism: SASLMechanism) -> POP3Action {
        let response: OAuthBearerResponse
        do {
            response = mechanism == .xoauth2 ? try OAuthBearerResponse(xoauth2: data) : try OAuthBearerResponse(oauthBearer: data)
        } catch .channelBinding {
            return badCommand(.err(.auth, "OAUTHBEARER has no channel binding"))
        } catch {
            return badCommand("malformed \(mechanism.rawValue) response")
        }
        state = .authenticating
        bearerPending = true
        return .authenticate(.bearer(user: response.user, token: response.token))
    }

    /// The answer to a refused bearer token: the error challenge instead of `-ERR`, and the next line ends it.
    mutating func bearerRefused() -> POP3Action {
        state = .sasl(.bearerFailed)
        return .send(.continuation(SASLCodec.encode(Self.bearerErrorChallenge)))
    }
}
