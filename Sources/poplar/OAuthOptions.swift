import ArgumentParser
import Configuration
import Node

/// OAUTHBEARER and XOAUTH2 (RFC 7628): how bearer tokens are checked (docs/configuration.md, `auth.oauth.*`).
struct OAuthOptions: ParsableArguments {
    @Option(name: .customLong("oauth-jwks"), help: "JWKS file with the keys that sign access tokens; offers OAUTHBEARER and XOAUTH2 (config auth.oauth.jwks-file).")
    var jwksFile: String?
    @Option(name: .customLong("oauth-issuer"), help: "The tokens' iss (config auth.oauth.issuer).") var issuer: String?
    @Option(name: .customLong("oauth-audience"), help: "A value the tokens' aud must hold (config auth.oauth.audience).") var audience: String?
    @Option(name: .customLong("oauth-user-claim"), help: "The claim naming the mailbox: email, sub, preferred_username or upn (config auth.oauth.user-claim; default email).")
    var userClaim: String?

    func settings(_ reader: ConfigReader) throws -> OAuthSettings? {
        guard let jwks = jwksFile ?? reader.string(forKey: "auth.oauth.jwks-file") else {
            if issuer != nil || audience != nil || userClaim != nil { throw UserError("--oauth-issuer, --oauth-audience and --oauth-user-claim need --oauth-jwks") }
            return nil
        }
        guard let issuer = issuer ?? reader.string(forKey: "auth.oauth.issuer"), !issuer.isEmpty else {
            throw UserError("--oauth-jwks needs --oauth-issuer (the tokens' iss)")
        }
        guard let audience = audience ?? reader.string(forKey: "auth.oauth.audience"), !audience.isEmpty else {
            throw UserError("--oauth-jwks needs --oauth-audience (a value of the tokens' aud)")
        }
        let claim = userClaim ?? reader.string(forKey: "auth.oauth.user-claim") ?? "email"
        guard OAuthSettings.userClaims.contains(claim) else {
            throw UserError("OAuth user claim must be one of \(OAuthSettings.userClaims.joined(separator: ", ")), not \(claim)")
        }
        return OAuthSettings(jwksFile: jwks, issuer: issuer, audience: audience, userClaim: claim)
    }
}
