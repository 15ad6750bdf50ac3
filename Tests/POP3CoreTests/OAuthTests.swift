import XCTest

@testable import POP3Core

/// AUTH OAUTHBEARER (RFC 7628 §3.1 grammar, §3.2.2 the error challenge, §5 only where plaintext is allowed) and
/// XOAUTH2, in the pure machine.
final class OAuthTests: XCTestCase {
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"

    func machine(oauth: Bool = true, plaintext: Bool = true) -> POP3SessionStateMachine {
        var m = POP3SessionStateMachine(configuration: .init(oauthEnabled: oauth, plaintextAllowedWithoutTLS: plaintext))
        _ = m.start()
        return m
    }

    func send(_ m: inout POP3SessionStateMachine, _ line: String) -> POP3Action { m.receive(line: Array(line.utf8)) }
    func b64(_ s: String) -> String { SASLCodec.encode(s) }

    // RFC 7628 §4.1's example shape: gs2 header with authzid, host and port pairs, auth=Bearer.
    func testOAuthBearerWithInitialResponse() {
        var m = machine()
        let message = "n,a=user@example.com,\u{1}host=server.example.com\u{1}port=143\u{1}auth=Bearer \(token)\u{1}\u{1}"
        XCTAssertEqual(send(&m, "AUTH OAUTHBEARER " + b64(message)), .authenticate(.bearer(user: "user@example.com", token: token)))
        XCTAssertEqual(m.authenticationCompleted(.success(mailbox: "user@example.com", messages: [])),
                       .send(.ok("user@example.com has 0 messages (0 octets)")))
    }

    func testOAuthBearerWithoutAuthzidAndAfterContinuation() {
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH OAUTHBEARER"), .send(.continuation("")))
        XCTAssertEqual(send(&m, b64("n,,\u{1}auth=bearer \(token)\u{1}\u{1}")), .authenticate(.bearer(user: nil, token: token)))
    }

    // RFC 7628 §3.2.2: a refused token gets the JSON error challenge; the client's dummy ^A ends the exchange.
    func testRefusedTokenGetsTheErrorChallenge() {
        var m = machine()
        _ = send(&m, "AUTH OAUTHBEARER " + b64("n,,\u{1}auth=Bearer \(token)\u{1}\u{1}"))
        XCTAssertEqual(m.authenticationCompleted(.badCredentials), .send(.continuation(b64(#"{"status":"invalid_token"}"#))))
        XCTAssertTrue(m.isAwaitingSASLResponse)
        XCTAssertEqual(send(&m, "AQ=="), .send(.err(.auth, "invalid token")))
        XCTAssertEqual(m.phase, .authorization)
        // A later password login answers as usual (the challenge was for the bearer exchange only).
        _ = send(&m, "USER a")
        _ = send(&m, "PASS b")
        XCTAssertEqual(m.authenticationCompleted(.badCredentials), .send(.err(.auth, "invalid user name or password")))
    }

    func testXOAUTH2() {
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH XOAUTH2 " + b64("user=someuser@example.com\u{1}auth=Bearer \(token)\u{1}\u{1}")),
                       .authenticate(.bearer(user: "someuser@example.com", token: token)))
        XCTAssertEqual(m.authenticationCompleted(.badCredentials), .send(.continuation(b64(#"{"status":"invalid_token"}"#))))
        XCTAssertEqual(send(&m, ""), .send(.err(.auth, "invalid token")))
    }

    // RFC 7628 §5: a bearer token is sent only over TLS (or where the plaintext policy allows); offered by CAPA only
    // when token keys are configured.
    func testOfferedOnlyWhereAllowed() {
        XCTAssertTrue(machine().authorizationCapabilities().contains("SASL PLAIN LOGIN OAUTHBEARER XOAUTH2"))
        XCTAssertTrue(machine(oauth: false).authorizationCapabilities().contains("SASL PLAIN LOGIN"))
        var strict = machine(plaintext: false)
        XCTAssertFalse(strict.authorizationCapabilities().contains { $0.contains("OAUTHBEARER") })
        guard case .send(.err(.auth, _)) = send(&strict, "AUTH OAUTHBEARER") else { return XCTFail("sent without TLS") }
        var off = machine(oauth: false)
        XCTAssertEqual(send(&off, "AUTH XOAUTH2"), .send(.err(nil, "unsupported authentication mechanism")))
    }

    func testGrammar() throws {
        XCTAssertThrowsError(try OAuthBearerResponse(oauthBearer: Array("p=tls-unique,,\u{1}auth=Bearer x\u{1}\u{1}".utf8))) {
            XCTAssertEqual($0 as? OAuthBearerResponse.Failure, .channelBinding)
        }
        let escaped = try OAuthBearerResponse(oauthBearer: Array("y,a=a=2Cb,\u{1}auth=Bearer abc==\u{1}\u{1}".utf8))
        XCTAssertEqual(escaped.user, "a,b")
        XCTAssertEqual(escaped.token, "abc==")
        for bad in ["n,,\u{1}auth=Bearer x\u{1}", "n,,auth=Bearer x\u{1}\u{1}", "n,,\u{1}\u{1}", "n,,\u{1}auth=Basic x\u{1}\u{1}",
                    "n,,\u{1}auth=Bearer \u{1}\u{1}", "n,,\u{1}auth=Bearer a b\u{1}\u{1}", "n,,\u{1}auth=Bearer a=b\u{1}\u{1}",
                    "x,,\u{1}auth=Bearer a\u{1}\u{1}", "n,b=x,\u{1}auth=Bearer a\u{1}\u{1}", "n,,\u{1}=v\u{1}auth=Bearer a\u{1}\u{1}", ""] {
            XCTAssertThrowsError(try OAuthBearerResponse(oauthBearer: Array(bad.utf8)), bad)
        }
        for bad in ["user=a\u{1}auth=Bearer t\u{1}", "auth=Bearer t\u{1}user=a\u{1}\u{1}", "user=\u{1}auth=Bearer t\u{1}\u{1}",
                    "user=a\u{1}auth=Bearer t\u{1}x\u{1}\u{1}"] {
            XCTAssertThrowsError(try OAuthBearerResponse(xoauth2: Array(bad.utf8)), bad)
        }
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH OAUTHBEARER " + b64("n,,")), .send(.err(nil, "malformed OAUTHBEARER response")))
    }
}
