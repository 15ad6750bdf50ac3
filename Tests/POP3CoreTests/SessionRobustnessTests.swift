import TestSupport
import XCTest

@testable import POP3Core

/// Random lines and events in any order: the state machine never traps, a closed session stays closed, and the
/// bad-command bound always ends a hostile session.
final class SessionRobustnessTests: XCTestCase {
    let vocabulary = ["USER a", "PASS b", "APOP a 0", "AUTH", "AUTH PLAIN", "AUTH LOGIN", "AUTH CRAM-MD5", "AUTH PLAIN AGEAYg==",
                      "QUIT", "STAT", "LIST", "LIST 2", "RETR 1", "DELE 1", "DELE 2", "NOOP", "RSET", "TOP 1 0", "UIDL", "CAPA",
                      "STLS", "*", "=", "YQ==", "", "BOGUS", "RETR 0", "LIST 99"]

    func testRandomSessions() {
        var rng = SplitMix64(seed: 1939)
        let messages = [POP3Message(uidl: "1", size: 1), POP3Message(uidl: "2", size: 2)]
        for _ in 0..<2000 {
            var m = POP3SessionStateMachine(configuration: .init(apopTimestamp: "<t@h>", cramMD5Enabled: Bool.random(using: &rng),
                                                                 tlsAvailable: Bool.random(using: &rng),
                                                                 plaintextAllowedWithoutTLS: Bool.random(using: &rng), maxBadCommands: 5))
            _ = m.start()
            var closedByAction = false
            for _ in 0..<40 {
                let action: POP3Action
                switch Int.random(in: 0..<10, using: &rng) {
                case 0:
                    action = m.authenticationCompleted(Bool.random(using: &rng) ? .success(mailbox: "a", messages: messages) : .badCredentials)
                case 1: action = m.lineTooLong()
                case 2: action = m.tlsEstablished()
                case 3: action = m.updateCompleted(.success(0))
                case 4:
                    let bytes = (0..<Int.random(in: 0..<12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    action = m.receive(line: bytes)
                default:
                    action = m.receive(line: Array(vocabulary.randomElement(using: &rng)!.utf8))
                }
                if closedByAction {
                    XCTAssertEqual(action, .none, "nothing after close")
                }
                if case .sendAndClose = action {
                    closedByAction = true
                    XCTAssertEqual(m.phase, .closed)
                }
                XCTAssertLessThanOrEqual(m.badCommands, 5)
                if m.isAwaitingSASLResponse { XCTAssertEqual(m.phase, .authorization) }
                if m.mailbox != nil { XCTAssertTrue(m.phase == .transaction || m.phase == .update) }
            }
        }
    }
}
