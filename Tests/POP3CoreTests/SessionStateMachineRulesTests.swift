import XCTest

@testable import POP3Core

/// Every command in every state, the bad-command count, and the finer AUTHORIZATION rules (RFC 1939 §4–§7,
/// RFC 2449 §5, RFC 2595 §4, RFC 5034 §4).
final class SessionStateMachineRulesTests: XCTestCase {
    let messages = [POP3Message(uidl: "u1", size: 100), POP3Message(uidl: "u2", size: 20), POP3Message(uidl: "u3", size: 3)]
    let allCommands = ["USER a", "PASS b", "APOP a 0123", "AUTH", "AUTH PLAIN", "QUIT", "STAT", "LIST", "LIST 1", "RETR 1",
                       "DELE 1", "NOOP", "RSET", "TOP 1 0", "UIDL", "UIDL 1", "CAPA", "STLS"]

    func machine(_ configure: (inout POP3SessionConfiguration) -> Void = { _ in }) -> POP3SessionStateMachine {
        var c = POP3SessionConfiguration(apopTimestamp: "<1.2@h>", cramChallenge: "<3.4@h>", cramMD5Enabled: true, tlsAvailable: true)
        configure(&c)
        var m = POP3SessionStateMachine(configuration: c)
        _ = m.start()
        return m
    }

    func send(_ m: inout POP3SessionStateMachine, _ line: String) -> POP3Action { m.receive(line: Array(line.utf8)) }

    func loggedIn(_ configure: (inout POP3SessionConfiguration) -> Void = { _ in }) -> POP3SessionStateMachine {
        var m = machine(configure)
        XCTAssertEqual(send(&m, "APOP a 0123"), .authenticate(.apop(user: "a", digest: "0123", timestamp: "<1.2@h>")))
        _ = m.authenticationCompleted(.success(mailbox: "a@example.test", messages: messages))
        return m
    }

    func isErr(_ a: POP3Action, _ code: POP3ResponseCode? = nil, file: StaticString = #filePath, line: UInt = #line) {
        guard case .send(.err(let c, _)) = a else { return XCTFail("expected -ERR, got \(a)", file: file, line: line) }
        if let code { XCTAssertEqual(c, code, file: file, line: line) }
    }

    // MARK: Every command in every state

    /// What each command does in AUTHORIZATION: only USER, PASS (after USER), APOP, AUTH, CAPA, STLS, QUIT.
    func testEveryCommandInAuthorization() {
        let refused: Set = ["PASS b", "STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0", "UIDL", "UIDL 1"]
        for line in allCommands {
            var m = machine()
            let action = send(&m, line)
            if refused.contains(line) {
                isErr(action)
                XCTAssertEqual(m.phase, .authorization, line)
                XCTAssertEqual(m.badCommands, 1, "\(line) counts as a bad command")
            } else {
                guard case .send(.err) = action else { continue }
                XCTFail("\(line) refused in AUTHORIZATION: \(action)")
            }
        }
    }

    /// What each command does in TRANSACTION: USER, PASS, APOP, AUTH, STLS are refused.
    func testEveryCommandInTransaction() {
        let refused: Set = ["USER a", "PASS b", "APOP a 0123", "AUTH", "AUTH PLAIN", "STLS"]
        for line in allCommands {
            var m = loggedIn()
            let action = send(&m, line)
            if refused.contains(line) {
                isErr(action)
                XCTAssertEqual(m.phase, .transaction, line)
                XCTAssertEqual(m.mailbox, "a@example.test")
            } else if case .send(.err) = action {
                XCTFail("\(line) refused in TRANSACTION: \(action)")
            }
        }
    }

    /// While the handler verifies credentials or negotiates TLS, lines are refused; in UPDATE and once closed
    /// they are ignored; before `start()` nothing happens.
    func testEveryCommandInTheWaitingStates() {
        for line in allCommands + ["", "BOGUS"] {
            var authenticating = machine()
            _ = send(&authenticating, "APOP a 0123")
            isErr(send(&authenticating, line))
            XCTAssertEqual(authenticating.phase, .authenticating)

            var tls = machine()
            XCTAssertEqual(send(&tls, "STLS"), .startTLS(.ok("Begin TLS negotiation")))
            isErr(send(&tls, line))
            XCTAssertEqual(tls.phase, .authenticating)

            var update = loggedIn()
            _ = send(&update, "QUIT")
            XCTAssertEqual(send(&update, line), .none)
            XCTAssertEqual(update.phase, .update)

            var closed = machine()
            _ = send(&closed, "QUIT")
            XCTAssertEqual(send(&closed, line), .none)
            XCTAssertEqual(closed.phase, .closed)

            var notStarted = POP3SessionStateMachine(configuration: .init())
            XCTAssertEqual(notStarted.receive(line: Array(line.utf8)), .none)
        }
    }

    /// Events that arrive in the wrong state change nothing.
    func testLateEventsAreIgnored() {
        var m = machine()
        XCTAssertEqual(m.authenticationCompleted(.badCredentials), .none)
        XCTAssertEqual(m.updateCompleted(.success(1)), .none)
        XCTAssertEqual(m.phase, .authorization)
        var t = loggedIn()
        XCTAssertEqual(t.authenticationCompleted(.success(mailbox: "x", messages: [])), .none)
        XCTAssertEqual(t.mailbox, "a@example.test")
        XCTAssertEqual(t.tlsEstablished(), .none, "TLS only after STLS")
        XCTAssertEqual(t.phase, .transaction)
        var closed = machine()
        _ = send(&closed, "QUIT")
        XCTAssertEqual(closed.tlsEstablished(), .none)
        XCTAssertEqual(closed.timedOut(), .none)
        XCTAssertEqual(closed.shuttingDown(), .none)
        XCTAssertEqual(closed.lineTooLong(), .none)
        XCTAssertEqual(closed.phase, .closed, "a closed session never comes back")
        var plain = machine { $0.plaintextAllowedWithoutTLS = false }
        _ = plain.tlsEstablished()
        XCTAssertEqual(send(&plain, "USER a"), .send(POP3SessionStateMachine.plaintextRefusal), "no TLS without STLS")
    }

    // MARK: Bad commands

    func testBadCommandCounting() {
        var m = machine { $0.maxBadCommands = 5 }
        isErr(send(&m, "BOGUS"))
        isErr(send(&m, ""))
        isErr(m.lineTooLong())
        _ = send(&m, "USER a")
        _ = send(&m, "PASS b")
        isErr(m.authenticationCompleted(.badCredentials), .auth)
        XCTAssertEqual(m.badCommands, 4)
        _ = send(&m, "USER a")
        _ = send(&m, "PASS b")
        isErr(m.authenticationCompleted(.inUse("held")), .inUse)
        _ = send(&m, "APOP a 0123")
        isErr(m.authenticationCompleted(.temporaryFailure("x")), .sysTemp)
        _ = send(&m, "APOP a 0123")
        isErr(m.authenticationCompleted(.adminLocked), .sysPerm)
        XCTAssertEqual(m.badCommands, 4, "IN-USE, SYS/TEMP, SYS/PERM are not the client's fault")
        XCTAssertEqual(send(&m, "NOOP"), .sendAndClose(.err(nil, "too many bad commands, closing")))
        XCTAssertEqual(m.phase, .closed)
    }

    func testNoSuchMessageIsNotABadCommand() {
        var m = loggedIn { $0.maxBadCommands = 2 }
        for _ in 0..<5 { isErr(send(&m, "RETR 9")) }
        XCTAssertEqual(m.phase, .transaction)
        isErr(send(&m, "USER x"))
        XCTAssertEqual(send(&m, "XYZ"), .sendAndClose(.err(nil, "too many bad commands, closing")))
    }

    func testLineTooLongInEveryPhase() {
        var t = loggedIn()
        isErr(t.lineTooLong())
        XCTAssertEqual(t.phase, .transaction)
        var s = machine()
        _ = send(&s, "AUTH LOGIN")
        XCTAssertTrue(s.isAwaitingSASLResponse)
        isErr(s.lineTooLong())
        XCTAssertFalse(s.isAwaitingSASLResponse, "an over-long SASL line cancels the exchange")
        XCTAssertEqual(s.phase, .authorization)
        var u = machine()
        _ = send(&u, "USER a")
        isErr(u.lineTooLong())
        isErr(send(&u, "PASS b"), nil)
    }

    // MARK: USER and PASS

    /// RFC 1939 §7: PASS only immediately after a successful USER.
    func testPassOnlyRightAfterUser() {
        for between in ["CAPA", "BOGUS", "AUTH", "NOOP", "USER"] {
            var m = machine()
            _ = send(&m, "USER a")
            _ = send(&m, between)
            isErr(send(&m, "PASS b"))
        }
        var m = machine()
        _ = send(&m, "USER a")
        _ = send(&m, "USER b")
        XCTAssertEqual(send(&m, "PASS c"), .authenticate(.password(user: "b", password: "c")), "the last USER counts")
    }

    func testUserNeverRevealsExistence() {
        var m = machine()
        XCTAssertEqual(send(&m, "USER nobody-here"), .send(.ok("send PASS")))
        XCTAssertEqual(send(&m, "USER alice"), .send(.ok("send PASS")))
    }

    func testAuthOutcomesTexts() {
        let expected: [(POP3AuthOutcome, POP3Response)] = [
            (.badCredentials, .err(.auth, "invalid user name or password")),
            (.inUse("mailbox in use on node n1 since 2026-11-23T05:00:00Z"), .err(.inUse, "mailbox in use on node n1 since 2026-11-23T05:00:00Z")),
            (.adminLocked, .err(.sysPerm, "mailbox locked by the administrator")),
            (.temporaryFailure("store unavailable"), .err(.sysTemp, "store unavailable")),
            (.plaintextDisallowed, .err(.auth, "plaintext authentication disallowed without TLS (use STLS)")),
            (.mechanismDisallowed, .err(.auth, "that mechanism is not enabled for this mailbox")),
        ]
        for (outcome, response) in expected {
            var m = machine()
            _ = send(&m, "USER a")
            _ = send(&m, "PASS b")
            XCTAssertEqual(m.authenticationCompleted(outcome), .send(response))
            XCTAssertEqual(m.phase, .authorization)
            XCTAssertNil(m.mailbox)
            isErr(send(&m, "PASS b"), nil)
        }
        var empty = machine()
        _ = send(&empty, "APOP a 0")
        XCTAssertEqual(empty.authenticationCompleted(.success(mailbox: "a", messages: [])), .send(.ok("a has 0 messages (0 octets)")))
    }

    // MARK: STLS (RFC 2595 §4)

    func testSTLSRules() {
        var alreadyTLS = machine { $0.isTLS = true }
        XCTAssertEqual(send(&alreadyTLS, "STLS"), .send(.err(nil, "TLS already active")))
        var afterUser = machine()
        _ = send(&afterUser, "USER a")
        _ = send(&afterUser, "CAPA")
        XCTAssertEqual(send(&afterUser, "STLS"), .send(.err(nil, "STLS must come before USER")), "USER, even cancelled, came first")
        var twice = machine()
        _ = send(&twice, "STLS")
        XCTAssertEqual(twice.tlsEstablished(), .none)
        XCTAssertEqual(send(&twice, "STLS"), .send(.err(nil, "TLS already active")))
        var afterAuthFailure = machine()
        _ = send(&afterAuthFailure, "APOP a 0")
        _ = afterAuthFailure.authenticationCompleted(.badCredentials)
        XCTAssertEqual(send(&afterAuthFailure, "STLS"), .startTLS(.ok("Begin TLS negotiation")))
    }

    // MARK: Plaintext (RFC 2595 §2.1)

    func testPlaintextRefusedWithoutTLSThenAllowed() {
        var m = machine { $0.plaintextAllowedWithoutTLS = false }
        for line in ["USER a", "AUTH PLAIN", "AUTH LOGIN", "AUTH PLAIN AGEAYg==", "AUTH LOGIN YQ=="] {
            XCTAssertEqual(send(&m, line), .send(POP3SessionStateMachine.plaintextRefusal), line)
            XCTAssertFalse(m.isAwaitingSASLResponse)
        }
        XCTAssertEqual(m.badCommands, 0, "a refusal by policy is not a bad command")
        XCTAssertEqual(send(&m, "AUTH"), .send(.multiline("methods supported:", ["CRAM-MD5"])))
        _ = send(&m, "STLS")
        _ = m.tlsEstablished()
        XCTAssertEqual(send(&m, "AUTH"), .send(.multiline("methods supported:", ["PLAIN", "LOGIN", "CRAM-MD5"])))
        XCTAssertEqual(send(&m, "AUTH PLAIN AGEAYg=="), .authenticate(.password(user: "a", password: "b")))
    }

    // MARK: CAPA (RFC 2449 §5)

    func testCAPAExactLists() {
        let base = POP3Capabilities.always
        var plain = machine()
        XCTAssertEqual(send(&plain, "CAPA"), .send(.multiline("Capability list follows", base + ["USER", "SASL PLAIN LOGIN CRAM-MD5", "STLS"])))
        var tls = machine { $0.isTLS = true; $0.tlsAvailable = false; $0.plaintextAllowedWithoutTLS = false }
        XCTAssertEqual(send(&tls, "CAPA"), .send(.multiline("Capability list follows", base + ["USER", "SASL PLAIN LOGIN CRAM-MD5"])))
        var strict = machine { $0.plaintextAllowedWithoutTLS = false; $0.cramMD5Enabled = false; $0.implementation = "Poplar" }
        XCTAssertEqual(send(&strict, "CAPA"), .send(.multiline("Capability list follows", base + ["STLS", "IMPLEMENTATION Poplar"])),
                       "no SASL line when no mechanism is usable")
        var t = loggedIn { $0.implementation = "Poplar" }
        XCTAssertEqual(send(&t, "CAPA"), .send(.multiline("Capability list follows", base + ["USER", "SASL PLAIN LOGIN CRAM-MD5", "IMPLEMENTATION Poplar"])),
                       "RFC 2449 §5: every AUTHORIZATION capability but STLS (RFC 2595 §4)")
        XCTAssertEqual(String(decoding: POP3Response.multiline("Capability list follows", ["TOP"]).encoded(), as: UTF8.self),
                       "+OK Capability list follows\r\nTOP\r\n.\r\n")
    }

    // MARK: SASL (RFC 5034 §4)

    func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    func testSASLEdges() {
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH LOGIN ="), .send(.continuation("UGFzc3dvcmQ6")), "= is an empty user name")
        XCTAssertEqual(send(&m, "="), .authenticate(.password(user: "", password: "")))

        m = machine()
        _ = send(&m, "AUTH LOGIN")
        _ = send(&m, b64("alice"))
        XCTAssertEqual(send(&m, "%%%"), .send(.err(nil, "invalid base64 data, authentication cancelled")))
        XCTAssertEqual(m.phase, .authorization)
        XCTAssertFalse(m.isAwaitingSASLResponse)

        m = machine()
        _ = send(&m, "AUTH LOGIN")
        _ = send(&m, b64("alice"))
        XCTAssertEqual(send(&m, "*"), .send(.err(nil, "authentication cancelled")))
        XCTAssertEqual(m.badCommands, 0, "cancelling is allowed")

        m = machine()
        _ = send(&m, "AUTH CRAM-MD5")
        XCTAssertEqual(send(&m, "*"), .send(.err(nil, "authentication cancelled")))

        m = machine()
        _ = send(&m, "AUTH CRAM-MD5")
        isErr(send(&m, b64("nodigest")))
        m = machine()
        _ = send(&m, "AUTH CRAM-MD5")
        XCTAssertEqual(send(&m, b64("john doe 0123ABCD")), .authenticate(.cramMD5(user: "john doe", digest: "0123abcd", challenge: "<3.4@h>")))

        m = machine()
        XCTAssertEqual(send(&m, "AUTH plain \(b64("alice\0alice\0pw"))"), .authenticate(.password(user: "alice", password: "pw")), "authzid = authcid")
        m = machine()
        isErr(send(&m, "AUTH PLAIN \(b64("\0\0pw"))"))
        m = machine()
        isErr(send(&m, "AUTH PLAIN \(b64("alice pw"))"))
        m = machine()
        isErr(send(&m, "AUTH PLAIN YWxpY2U"), nil)  // unpadded base64 is invalid (RFC 4648 §4 as RFC 5034 requires)
        m = machine()
        XCTAssertEqual(send(&m, "AUTH PLAIN \(b64("\0alice\0pass with spaces\0and nul"))"),
                       .authenticate(.password(user: "alice", password: "pass with spaces\0and nul")))

        m = machine()
        _ = send(&m, "AUTH PLAIN")
        XCTAssertEqual(send(&m, "="), .send(.err(nil, "malformed PLAIN response")))
    }

    // MARK: TRANSACTION (RFC 1939 §5)

    func testDeletionsInNumberOrderAndRSET() {
        var m = loggedIn()
        XCTAssertEqual(send(&m, "DELE 3"), .send(.ok("message 3 deleted")))
        XCTAssertEqual(send(&m, "DELE 1"), .send(.ok("message 1 deleted")))
        XCTAssertEqual(send(&m, "DELE 3"), .send(.err(nil, "no such message")))
        XCTAssertEqual(send(&m, "STAT"), .send(.ok("1 20")))
        XCTAssertEqual(send(&m, "UIDL"), .send(.multiline("", ["2 u2"])))
        XCTAssertEqual(send(&m, "LIST"), .send(.multiline("1 messages (20 octets)", ["2 20"])))
        XCTAssertEqual(send(&m, "RSET"), .send(.ok("maildrop has 3 messages (123 octets)")))
        XCTAssertEqual(send(&m, "STAT"), .send(.ok("3 123")))
        _ = send(&m, "DELE 2")
        _ = send(&m, "DELE 3")
        _ = send(&m, "DELE 1")
        XCTAssertEqual(send(&m, "QUIT"), .update(deletions: messages))
        XCTAssertEqual(m.phase, .update)
        XCTAssertEqual(m.mailbox, "a@example.test")
        XCTAssertEqual(m.updateCompleted(.success(3)), .sendAndClose(.ok("bye (3 messages deleted)")))
        XCTAssertNil(m.mailbox)
    }

    func testOutOfRange() {
        var m = loggedIn()
        for line in ["RETR 4", "TOP 4 0", "DELE 4", "LIST 4", "UIDL 4", "RETR 2147483647"] {
            XCTAssertEqual(send(&m, line), .send(.err(nil, "no such message")), line)
        }
        XCTAssertEqual(send(&m, "TOP 3 2147483647"), .retrieve(index: 3, message: messages[2], topBodyLines: 2_147_483_647))
    }

    func testUpdateFailureAndOneDeletion() {
        var m = loggedIn()
        _ = send(&m, "DELE 2")
        XCTAssertEqual(send(&m, "QUIT"), .update(deletions: [messages[1]]))
        XCTAssertEqual(m.updateCompleted(.failure(POP3UpdateFailure(message: "could not delete, nothing deleted"))),
                       .sendAndClose(.err(.sysTemp, "could not delete, nothing deleted")))
        XCTAssertEqual(m.phase, .closed)
        var one = loggedIn()
        _ = send(&one, "QUIT")
        XCTAssertEqual(one.updateCompleted(.success(1)), .sendAndClose(.ok("bye (1 message deleted)")))
    }

    func testTimeoutAndShutdownInEveryPhase() {
        var a = machine()
        XCTAssertEqual(a.timedOut(), .sendAndClose(.err(nil, "autologout: idle for too long")))
        XCTAssertEqual(a.phase, .closed)
        var t = loggedIn()
        _ = send(&t, "DELE 1")
        XCTAssertEqual(t.timedOut(), .sendAndClose(.err(nil, "autologout: idle for too long")), "no UPDATE")
        XCTAssertEqual(t.updateCompleted(.success(1)), .none)
        var s = machine()
        _ = send(&s, "AUTH LOGIN")
        XCTAssertEqual(s.shuttingDown(), .sendAndClose(.err(.sysTemp, "server shutting down, try again later")))
        XCTAssertEqual(s.phase, .closed)
    }

    func testGreeting() {
        var plain = POP3SessionStateMachine(configuration: .init(greeting: "Poplar ready"))
        XCTAssertEqual(plain.start(), .send(.ok("Poplar ready")))
        isErr(plain.receive(line: Array("APOP a 0123".utf8)), nil)
    }
}

final class SASLCodecTests: XCTestCase {
    func testStrictBase64() {
        XCTAssertEqual(SASLCodec.decode("YWxpY2U="), Array("alice".utf8))
        XCTAssertEqual(SASLCodec.decode(""), [])
        for bad in ["YWxpY2U", "YWx pY2U=", "YWxp\u{0}Y2U=", "====", "YQ==YQ==", "Y!==", String(repeating: "A", count: POP3Limits.maxSASLResponseLength + 4)] {
            XCTAssertNil(SASLCodec.decode(bad), bad.prefix(20).debugDescription)
        }
        XCTAssertEqual(SASLCodec.encode("Username:"), "VXNlcm5hbWU6")
        XCTAssertEqual(SASLCodec.encode("Password:"), "UGFzc3dvcmQ6")
    }
}
