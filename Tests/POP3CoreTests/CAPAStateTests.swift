import XCTest

@testable import POP3Core

/// RFC 2449 §5: "Capabilities available in the AUTHORIZATION state MUST be announced in both states." The one
/// exception is STLS, whose capability means the command "is present and permitted in the current state" and which
/// is "only permitted in AUTHORIZATION state" (RFC 2595 §4).
final class CAPAStateTests: XCTestCase {
    /// A configuration of the connection: TLS offered or already on, plaintext allowed without TLS, CRAM-MD5.
    struct Case: CustomStringConvertible {
        var tlsAvailable: Bool
        var isTLS: Bool
        var plaintextWithoutTLS: Bool
        var cramMD5: Bool
        var implementation: String?
        var description: String {
            "tlsAvailable=\(tlsAvailable) isTLS=\(isTLS) plaintext=\(plaintextWithoutTLS) cram=\(cramMD5) impl=\(implementation ?? "-")"
        }
    }

    /// Every combination (a TLS connection implies TLS is available).
    var cases: [Case] {
        var out: [Case] = []
        for tlsAvailable in [false, true] {
            for isTLS in tlsAvailable ? [false, true] : [false] {
                for plaintext in [false, true] {
                    for cram in [false, true] {
                        for implementation in [nil, "Poplar"] as [String?] {
                            out.append(Case(tlsAvailable: tlsAvailable, isTLS: isTLS, plaintextWithoutTLS: plaintext, cramMD5: cram, implementation: implementation))
                        }
                    }
                }
            }
        }
        return out
    }

    func capa(_ m: inout POP3SessionStateMachine) -> [String] {
        guard case .send(.multiline(_, let lines)) = m.receive(line: Array("CAPA".utf8)) else {
            XCTFail("CAPA did not answer a list")
            return []
        }
        return lines
    }

    /// The AUTHORIZATION list and the TRANSACTION list of one session with configuration `c` (login by APOP, which
    /// every configuration offers).
    func lists(_ c: Case) -> (authorization: [String], transaction: [String]) {
        let configuration = POP3SessionConfiguration(apopTimestamp: "<1.2@h>", cramMD5Enabled: c.cramMD5, tlsAvailable: c.tlsAvailable,
                                                     isTLS: c.isTLS, plaintextAllowedWithoutTLS: c.plaintextWithoutTLS,
                                                     implementation: c.implementation)
        var m = POP3SessionStateMachine(configuration: configuration)
        _ = m.start()
        let authorization = capa(&m)
        XCTAssertEqual(m.receive(line: Array("APOP a 0123".utf8)), .authenticate(.apop(user: "a", digest: "0123", timestamp: "<1.2@h>")))
        _ = m.authenticationCompleted(.success(mailbox: "a@example.test", messages: []))
        XCTAssertEqual(m.phase, .transaction)
        return (authorization, capa(&m))
    }

    func testTransactionAnnouncesEveryAuthorizationCapabilityButSTLS() {
        XCTAssertEqual(cases.count, 24)
        for c in cases {
            let (authorization, transaction) = lists(c)
            XCTAssertEqual(transaction, authorization.filter { $0 != "STLS" }, "\(c)")
            XCTAssertFalse(transaction.contains("STLS"), "\(c)")
            XCTAssertEqual(authorization.contains("STLS"), c.tlsAvailable && !c.isTLS, "\(c)")
            let plaintext = c.isTLS || c.plaintextWithoutTLS
            XCTAssertEqual(transaction.contains("USER"), plaintext, "\(c)")
            let sasl = transaction.first { $0.hasPrefix("SASL ") }
            switch (plaintext, c.cramMD5) {
            case (true, true): XCTAssertEqual(sasl, "SASL PLAIN LOGIN CRAM-MD5", "\(c)")
            case (true, false): XCTAssertEqual(sasl, "SASL PLAIN LOGIN", "\(c)")
            case (false, true): XCTAssertEqual(sasl, "SASL CRAM-MD5", "\(c)")
            case (false, false): XCTAssertNil(sasl, "\(c)")
            }
        }
    }
}
