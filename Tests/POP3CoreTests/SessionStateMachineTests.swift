import XCTest

@testable import POP3Core

/// The session as events in, actions out: RFC 1939 §3–§10, RFC 2449, RFC 2595, RFC 5034, RFC 3206.
final class SessionStateMachineTests: XCTestCase {
    let twoMessages = [POP3Message(uidl: "00000000000000000000000001", size: 120), POP3Message(uidl: "00000000000000000000000002", size: 200)]

    func machine(_ configure: (inout POP3SessionConfiguration) -> Void = { _ in }) -> POP3SessionStateMachine {
        var c = POP3SessionConfiguration(apopTimestamp: "<1896.697170952@dbc.mtview.ca.us>", cramChallenge: "<42.1@host>", cramMD5Enabled: true, tlsAvailable: true)
        configure(&c)
        var m = POP3SessionStateMachine(configuration: c)
        _ = m.start()
        return m
    }

    func send(_ m: inout POP3SessionStateMachine, _ line: String) -> POP3Action { m.receive(line: Array(line.utf8)) }

    func loggedIn(_ messages: [POP3Message]? = nil) -> POP3SessionStateMachine {
        var m = machine()
        _ = send(&m, "USER alice")
        _ = send(&m, "PASS pw")
        _ = m.authenticationCompleted(.success(mailbox: "alice@example.test", messages: messages ?? twoMessages))
        return m
    }

    func isErr(_ a: POP3Action, code: POP3ResponseCode? = nil, file: StaticString = #filePath, line: UInt = #line) {
        guard case .send(.err(let c, _)) = a else { return XCTFail("expected -ERR, got \(a)", file: file, line: line) }
        if let code { XCTAssertEqual(c, code, file: file, line: line) }
    }

    // RFC 1939 §10: the example session, with APOP.
    func testRFC1939ExampleSession() {
        var m = POP3SessionStateMachine(configuration: .init(apopTimestamp: "<1896.697170952@dbc.mtview.ca.us>"))
        XCTAssertEqual(m.start(), .send(.ok("POP3 server ready <1896.697170952@dbc.mtview.ca.us>")))
        XCTAssertEqual(send(&m, "APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
                       .authenticate(.apop(user: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb", timestamp: "<1896.697170952@dbc.mtview.ca.us>")))
        XCTAssertEqual(m.phase, .authenticating)
        XCTAssertEqual(m.authenticationCompleted(.success(mailbox: "mrose", messages: twoMessages)), .send(.ok("mrose has 2 messages (320 octets)")))
        XCTAssertEqual(send(&m, "STAT"), .send(.ok("2 320")))
        XCTAssertEqual(send(&m, "LIST"), .send(.multiline("2 messages (320 octets)", ["1 120", "2 200"])))
        XCTAssertEqual(send(&m, "RETR 1"), .retrieve(index: 1, message: twoMessages[0], topBodyLines: nil))
        XCTAssertEqual(send(&m, "DELE 1"), .send(.ok("message 1 deleted")))
        XCTAssertEqual(send(&m, "RETR 2"), .retrieve(index: 2, message: twoMessages[1], topBodyLines: nil))
        XCTAssertEqual(send(&m, "DELE 2"), .send(.ok("message 2 deleted")))
        XCTAssertEqual(send(&m, "QUIT"), .update(deletions: twoMessages))
        XCTAssertEqual(m.phase, .update)
        XCTAssertEqual(m.updateCompleted(.success(2)), .sendAndClose(.ok("bye (2 messages deleted)")))
        XCTAssertEqual(m.phase, .closed)
    }

    // RFC 1939 §4: only AUTHORIZATION commands before login.
    func testTransactionCommandsRefusedBeforeLogin() {
        for line in ["STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL", "UIDL 1"] {
            var m = machine()
            isErr(send(&m, line))
            XCTAssertEqual(m.phase, .authorization, line)
        }
    }

    // RFC 1939 §5: no AUTHORIZATION commands after login.
    func testAuthorizationCommandsRefusedAfterLogin() {
        for line in ["USER bob", "PASS x", "APOP bob 0123", "AUTH PLAIN", "AUTH", "STLS"] {
            var m = loggedIn()
            isErr(send(&m, line))
            XCTAssertEqual(m.phase, .transaction, line)
        }
    }

    func testNothingAcceptedInUpdateOrClosedOrWhileAuthenticating() {
        var m = loggedIn()
        _ = send(&m, "QUIT")
        XCTAssertEqual(send(&m, "STAT"), .none, "UPDATE: lines are ignored")
        _ = m.updateCompleted(.success(0))
        XCTAssertEqual(send(&m, "NOOP"), .none, "closed")
        var a = machine()
        _ = send(&a, "USER x")
        _ = send(&a, "PASS y")
        isErr(send(&a, "STAT"))
        XCTAssertEqual(a.phase, .authenticating)
    }

    func testPassNeedsUser() {
        var m = machine()
        isErr(send(&m, "PASS x"))
        XCTAssertEqual(send(&m, "USER a"), .send(.ok("send PASS")))
        XCTAssertEqual(send(&m, "PASS x y"), .authenticate(.password(user: "a", password: "x y")))
    }

    // RFC 2449 §8, RFC 3206: each refusal with its code; the session stays in AUTHORIZATION.
    func testLoginOutcomes() {
        let cases: [(POP3AuthOutcome, POP3ResponseCode)] = [
            (.badCredentials, .auth), (.inUse("held by n1 since T"), .inUse), (.adminLocked, .sysPerm),
            (.temporaryFailure("store down"), .sysTemp), (.plaintextDisallowed, .auth), (.mechanismDisallowed, .auth),
        ]
        for (outcome, code) in cases {
            var m = machine()
            _ = send(&m, "USER a")
            _ = send(&m, "PASS b")
            isErr(m.authenticationCompleted(outcome), code: code)
            XCTAssertEqual(m.phase, .authorization)
            XCTAssertEqual(send(&m, "USER a"), .send(.ok("send PASS")), "can try again")
        }
        var m = machine()
        _ = send(&m, "USER a"); _ = send(&m, "PASS b")
        XCTAssertEqual(m.authenticationCompleted(.inUse("mailbox in use by a session on node n1 since T")), .send(.err(.inUse, "mailbox in use by a session on node n1 since T")))
    }

    func testTransaction() {
        var m = loggedIn()
        XCTAssertEqual(send(&m, "LIST 2"), .send(.ok("2 200")))
        isErr(send(&m, "LIST 3"))
        XCTAssertEqual(send(&m, "UIDL"), .send(.multiline("", ["1 00000000000000000000000001", "2 00000000000000000000000002"])))
        XCTAssertEqual(send(&m, "UIDL 2"), .send(.ok("2 00000000000000000000000002")))
        XCTAssertEqual(send(&m, "TOP 2 5"), .retrieve(index: 2, message: twoMessages[1], topBodyLines: 5))
        XCTAssertEqual(send(&m, "DELE 1"), .send(.ok("message 1 deleted")))
        isErr(send(&m, "DELE 1"))
        isErr(send(&m, "RETR 1"))
        isErr(send(&m, "TOP 1 0"))
        isErr(send(&m, "LIST 1"))
        isErr(send(&m, "UIDL 1"))
        XCTAssertEqual(send(&m, "STAT"), .send(.ok("1 200")))
        XCTAssertEqual(send(&m, "LIST"), .send(.multiline("1 messages (200 octets)", ["2 200"])))
        XCTAssertEqual(send(&m, "RSET"), .send(.ok("maildrop has 2 messages (320 octets)")))
        XCTAssertEqual(send(&m, "NOOP"), .send(.ok("")))
        XCTAssertEqual(send(&m, "QUIT"), .update(deletions: []))
    }

    func testUpdateFailureDeletesNothingAndSaysSo() {
        var m = loggedIn()
        _ = send(&m, "DELE 1")
        _ = send(&m, "QUIT")
        XCTAssertEqual(m.updateCompleted(.failure(.init(message: "lock lost"))), .sendAndClose(.err(.sysTemp, "lock lost")))
    }

    func testQuitInAuthorization() {
        var m = machine()
        XCTAssertEqual(send(&m, "QUIT"), .sendAndClose(.ok("bye")))
    }

    func testBadCommandLimit() {
        var m = machine { $0.maxBadCommands = 3 }
        isErr(send(&m, "BOGUS"))
        isErr(m.lineTooLong())
        XCTAssertEqual(send(&m, "BOGUS"), .sendAndClose(.err(nil, "too many bad commands, closing")))
    }

    func testTimeoutAndShutdown() {
        var m = loggedIn()
        XCTAssertEqual(m.timedOut(), .sendAndClose(.err(nil, "autologout: idle for too long")))
        var s = loggedIn()
        XCTAssertEqual(s.shuttingDown(), .sendAndClose(.err(.sysTemp, "server shutting down, try again later")))
    }

    // RFC 2449 §5.
    func testCAPA() {
        func caps(_ m: inout POP3SessionStateMachine) -> [String] {
            guard case .send(.multiline(_, let lines)) = send(&m, "CAPA") else { XCTFail(); return [] }
            return lines
        }
        var m = machine { $0.implementation = "Poplar" }
        let before = caps(&m)
        for c in POP3Capabilities.always + ["USER", "SASL PLAIN LOGIN CRAM-MD5", "STLS", "IMPLEMENTATION Poplar"] {
            XCTAssertTrue(before.contains(c), c)
        }
        var strict = machine { $0.plaintextAllowedWithoutTLS = false }
        let strictCaps = caps(&strict)
        XCTAssertFalse(strictCaps.contains("USER"))
        XCTAssertTrue(strictCaps.contains("SASL CRAM-MD5"))
        XCTAssertFalse(strictCaps.contains { $0.hasPrefix("IMPLEMENTATION") }, "only when configured")
        _ = send(&strict, "STLS")
        _ = strict.tlsEstablished()
        let afterTLS = caps(&strict)
        XCTAssertTrue(afterTLS.contains("USER") && afterTLS.contains("SASL PLAIN LOGIN CRAM-MD5") && !afterTLS.contains("STLS"))
        var t = loggedIn()
        let inTransaction = caps(&t)
        XCTAssertEqual(inTransaction, before.filter { $0 != "STLS" && !$0.hasPrefix("IMPLEMENTATION") }, "RFC 2449 §5; STLS only before login (RFC 2595 §4)")
    }

    // RFC 2595 §4.
    func testSTLS() {
        var m = machine()
        XCTAssertEqual(send(&m, "STLS"), .startTLS(.ok("Begin TLS negotiation")))
        XCTAssertEqual(m.phase, .authenticating)
        XCTAssertEqual(m.tlsEstablished(), .none)
        isErr(send(&m, "STLS"), code: nil)
        var afterUser = machine()
        _ = send(&afterUser, "USER a")
        isErr(send(&afterUser, "STLS"))
        var noCert = machine { $0.tlsAvailable = false }
        isErr(send(&noCert, "STLS"))
        // STLS forgets a USER given before... (USER must come after; and after TLS a fresh AUTHORIZATION)
        var fresh = machine()
        _ = send(&fresh, "STLS")
        _ = fresh.tlsEstablished()
        isErr(send(&fresh, "PASS x"), code: nil)
    }

    // RFC 2595 §2.1: plaintext refused without TLS when not allowed.
    func testPlaintextRefusedWithoutTLS() {
        var m = machine { $0.plaintextAllowedWithoutTLS = false }
        isErr(send(&m, "USER a"), code: .auth)
        isErr(send(&m, "AUTH PLAIN"), code: .auth)
        isErr(send(&m, "AUTH LOGIN"), code: .auth)
        XCTAssertEqual(send(&m, "AUTH CRAM-MD5"), .send(.continuation("PDQyLjFAaG9zdD4=")), "CRAM-MD5 sends no password")
        var apop = machine { $0.plaintextAllowedWithoutTLS = false }
        XCTAssertEqual(send(&apop, "APOP a 0123"), .authenticate(.apop(user: "a", digest: "0123", timestamp: "<1896.697170952@dbc.mtview.ca.us>")))
        _ = send(&m, "*")
        _ = send(&m, "STLS")
        _ = m.tlsEstablished()
        XCTAssertEqual(send(&m, "USER a"), .send(.ok("send PASS")))
    }

    // RFC 5034 §4 with RFC 4616 PLAIN, LOGIN, RFC 2195 CRAM-MD5.
    func testSASL() {
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH"), .send(.multiline("methods supported:", ["PLAIN", "LOGIN", "CRAM-MD5"])))
        XCTAssertEqual(send(&m, "AUTH PLAIN \(b64("\0alice\0pw"))"), .authenticate(.password(user: "alice", password: "pw")))

        m = machine()
        XCTAssertEqual(send(&m, "AUTH PLAIN"), .send(.continuation("")))
        XCTAssertTrue(m.isAwaitingSASLResponse)
        XCTAssertEqual(send(&m, b64("alice\0alice\0pw")), .authenticate(.password(user: "alice", password: "pw")))

        m = machine()
        isErr(send(&m, "AUTH PLAIN \(b64("bob\0alice\0pw"))"), code: .auth)

        m = machine()
        XCTAssertEqual(send(&m, "AUTH PLAIN ="), .send(.err(nil, "malformed PLAIN response")))

        m = machine()
        XCTAssertEqual(send(&m, "AUTH LOGIN"), .send(.continuation("VXNlcm5hbWU6")))
        XCTAssertEqual(send(&m, b64("alice")), .send(.continuation("UGFzc3dvcmQ6")))
        XCTAssertEqual(send(&m, b64("p w")), .authenticate(.password(user: "alice", password: "p w")))

        m = machine()
        XCTAssertEqual(send(&m, "AUTH LOGIN \(b64("alice"))"), .send(.continuation("UGFzc3dvcmQ6")))

        m = machine()
        XCTAssertEqual(send(&m, "AUTH CRAM-MD5"), .send(.continuation(b64("<42.1@host>"))))
        XCTAssertEqual(send(&m, b64("alice B913A602C7EDA7A495B4E6E7334D3890")),
                       .authenticate(.cramMD5(user: "alice", digest: "b913a602c7eda7a495b4e6e7334d3890", challenge: "<42.1@host>")))

        m = machine()
        _ = send(&m, "AUTH LOGIN")
        XCTAssertEqual(send(&m, "*"), .send(.err(nil, "authentication cancelled")))
        XCTAssertEqual(m.phase, .authorization)

        m = machine()
        _ = send(&m, "AUTH PLAIN")
        isErr(send(&m, "not base64!"))
        XCTAssertFalse(m.isAwaitingSASLResponse)

        m = machine()
        isErr(send(&m, "AUTH GSSAPI"))
        isErr(send(&m, "AUTH CRAM-MD5 abc"))
    }

    func testCRAMMD5OnlyWhenEnabled() {
        var m = machine { $0.cramMD5Enabled = false }
        XCTAssertEqual(send(&m, "AUTH"), .send(.multiline("methods supported:", ["PLAIN", "LOGIN"])))
        isErr(send(&m, "AUTH CRAM-MD5"))
    }

    func testAPOPNeedsTimestamp() {
        var m = machine { $0.apopTimestamp = nil }
        isErr(send(&m, "APOP a 0123"))
    }

    func testMessageNumbersFixedForSession() {
        var m = loggedIn([POP3Message(uidl: "1", size: 1)])
        XCTAssertEqual(send(&m, "STAT"), .send(.ok("1 1")))
        isErr(send(&m, "RETR 2"), code: nil)
    }
}
