import XCTest

@testable import POP3Core

/// LOGIN-DELAY and EXPIRE (RFC 2449 §6.5, §6.7, §8.1.2) in the pure machine: the arguments CAPA announces before
/// and after login, the [LOGIN-DELAY] answer, and EXPIRE 0's deletion of retrieved messages at QUIT.
final class DomainPolicyTests: XCTestCase {
    let messages = [POP3Message(uidl: "a", size: 10), POP3Message(uidl: "b", size: 20), POP3Message(uidl: "c", size: 30)]

    func machine(loginDelay: String = "0", expire: String = "NEVER") -> POP3SessionStateMachine {
        var configuration = POP3SessionConfiguration(plaintextAllowedWithoutTLS: true)
        configuration.loginDelayCapability = loginDelay
        configuration.expireCapability = expire
        var m = POP3SessionStateMachine(configuration: configuration)
        _ = m.start()
        return m
    }

    func send(_ m: inout POP3SessionStateMachine, _ line: String) -> POP3Action { m.receive(line: Array(line.utf8)) }

    func capa(_ m: inout POP3SessionStateMachine) -> [String] {
        guard case .send(.multiline(_, let lines)) = send(&m, "CAPA") else { XCTFail("no list"); return [] }
        return lines
    }

    func login(_ m: inout POP3SessionStateMachine, loginDelay: Int = 0, expire: Int? = nil) {
        _ = send(&m, "USER alice@example.test")
        _ = send(&m, "PASS pw")
        m.applyDomainPolicy(loginDelaySeconds: loginDelay, expireDays: expire)
        _ = m.authenticationCompleted(.success(mailbox: "alice@example.test", messages: messages))
    }

    // §6.5, §6.7: the defaults are what Poplar always announced.
    func testDefaultsAreZeroAndNever() {
        var m = machine()
        let caps = capa(&m)
        XCTAssertTrue(caps.contains("LOGIN-DELAY 0") && caps.contains("EXPIRE NEVER"), "\(caps)")
    }

    // "USER" before login when the value varies by user; the user's own value after login, never with USER.
    func testPerUserValuesBeforeAndAfterLogin() {
        var m = machine(loginDelay: "300 USER", expire: "30 USER")
        let before = capa(&m)
        XCTAssertTrue(before.contains("LOGIN-DELAY 300 USER") && before.contains("EXPIRE 30 USER"), "\(before)")
        login(&m, loginDelay: 900, expire: nil)
        let after = capa(&m)
        XCTAssertTrue(after.contains("LOGIN-DELAY 900") && after.contains("EXPIRE NEVER"), "\(after)")
        // ("UTF8 USER", RFC 6856 §2, is another capability's argument: it stays.)
        XCTAssertFalse(after.contains { ($0.hasPrefix("LOGIN-DELAY ") || $0.hasPrefix("EXPIRE ")) && $0.hasSuffix(" USER") })
    }

    // §8.1.2: the right credentials too soon after the last login.
    func testLoginDelayAnswer() {
        var m = machine(loginDelay: "900")
        _ = send(&m, "USER alice@example.test")
        _ = send(&m, "PASS pw")
        XCTAssertEqual(m.authenticationCompleted(.loginDelay("minimum time between logins not reached, try again in 42 s")),
                       .send(.err(.loginDelay, "minimum time between logins not reached, try again in 42 s")))
        XCTAssertEqual(m.phase, .authorization)
    }

    // §6.7 EXPIRE 0: a message retrieved is deleted at QUIT, with those marked by DELE; TOP retrieves nothing.
    func testExpireZeroDeletesRetrievedAtQuit() {
        var m = machine(expire: "0")
        login(&m, expire: 0)
        _ = send(&m, "RETR 1")
        _ = send(&m, "TOP 2 0")
        _ = send(&m, "DELE 3")
        XCTAssertEqual(send(&m, "QUIT"), .update(deletions: [messages[0], messages[2]]))
    }

    func testRetrievedKeptWithoutExpireZero() {
        var m = machine(expire: "7")
        login(&m, expire: 7)
        _ = send(&m, "RETR 1")
        XCTAssertEqual(send(&m, "QUIT"), .update(deletions: []))
    }
}
