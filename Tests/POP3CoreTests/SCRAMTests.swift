import XCTest

@testable import POP3Core

/// AUTH SCRAM-SHA-256 and -PLUS in the pure machine, clause by clause: RFC 5802 §5 (the exchange), §6 (channel
/// binding and its downgrade check), §7 (the grammar), RFC 7677 §3 (the test vector), RFC 5034 §4 (AUTH, the
/// initial response, "*", the server-final continuation).
final class SCRAMTests: XCTestCase {
    /// RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations; SaltedPassword
    /// computed once with Python's hashlib.pbkdf2_hmac.
    static let rfcKeys = SCRAMServerKeys.keys(
        saltedPassword: hex("c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d"),
        salt: Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!), iterations: 4096)
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let endPoint: [UInt8] = Array(repeating: 0xAB, count: 32)

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }

    func machine(tls: Bool = false, scram: Bool = true) -> POP3SessionStateMachine {
        var m = POP3SessionStateMachine(configuration: .init(
            scramEnabled: scram, scramNonce: Self.serverNonce,
            channelBindings: tls ? [.tlsServerEndPoint: Self.endPoint] : [:], isTLS: tls))
        _ = m.start()
        return m
    }

    func send(_ m: inout POP3SessionStateMachine, _ line: String) -> POP3Action { m.receive(line: Array(line.utf8)) }
    func b64(_ s: String) -> String { SASLCodec.encode(s) }
    func b64(_ b: [UInt8]) -> String { SASLCodec.encode(b) }

    func continuation(_ a: POP3Action, file: StaticString = #filePath, line: UInt = #line) -> String? {
        guard case .send(.continuation(let text)) = a else { XCTFail("expected a continuation, got \(a)", file: file, line: line); return nil }
        return SASLCodec.decode(text).map { String(decoding: $0, as: UTF8.self) }
    }

    func refusal(_ a: POP3Action, _ error: SCRAMError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a, .send(.err(.auth, "SCRAM: \(error.rawValue)")), file: file, line: line)
    }

    /// Drives the exchange up to the server-first message.
    func serverFirst(_ m: inout POP3SessionStateMachine, mechanism: String = "SCRAM-SHA-256", clientFirst: String) -> POP3Action {
        XCTAssertEqual(send(&m, "AUTH \(mechanism)"), .send(.continuation("")))
        let lookup = send(&m, b64(clientFirst))
        guard case .lookupSCRAM = lookup else { return lookup }
        XCTAssertEqual(m.phase, .authenticating)
        return m.scramKeysLoaded(.keys(Self.rfcKeys))
    }

    // RFC 7677 §3: the whole example exchange; the server's messages are the RFC's, byte for byte.
    func testRFC7677Example() {
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH SCRAM-SHA-256"), .send(.continuation("")))
        XCTAssertEqual(send(&m, b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")), .lookupSCRAM(user: "user"))
        XCTAssertEqual(continuation(m.scramKeysLoaded(.keys(Self.rfcKeys))),
                       "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        let final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        XCTAssertEqual(continuation(send(&m, b64(final))), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        XCTAssertTrue(m.isAwaitingSASLResponse)
        // RFC 5034 §4: POP3 has no additional data with success; the client answers the continuation with "".
        XCTAssertEqual(send(&m, ""), .authenticate(.scram(user: "user", proofValid: true)))
        XCTAssertEqual(m.authenticationCompleted(.success(mailbox: "user@example.test", messages: [])),
                       .send(.ok("user@example.test has 0 messages (0 octets)")))
    }

    // RFC 5034 §4: the client-first message as the initial response; "=" also answers the server-final message.
    func testInitialResponseAndEqualsSign() {
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH SCRAM-SHA-256 " + b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")), .lookupSCRAM(user: "user"))
        _ = m.scramKeysLoaded(.keys(Self.rfcKeys))
        let final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        XCTAssertNotNil(continuation(send(&m, b64(final))))
        XCTAssertEqual(send(&m, "="), .authenticate(.scram(user: "user", proofValid: true)))
    }

    // RFC 5802 §5: a wrong proof is a wrong password, answered by the handler after the failure delay.
    func testWrongProofIsAFailedLogin() {
        var m = machine()
        _ = serverFirst(&m, clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=" + b64(Array(repeating: 1, count: 32))
        XCTAssertEqual(send(&m, b64(final)), .authenticate(.scram(user: "user", proofValid: false)))
        XCTAssertEqual(m.authenticationCompleted(.badCredentials), .send(.err(.auth, "invalid user name or password")))
    }

    // RFC 5802 §5.1: the client-final nonce must be the combined nonce.
    func testNonceMustMatch() {
        var m = machine()
        _ = serverFirst(&m, clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        refusal(send(&m, b64("c=biws,r=rOprNGfwEbeRWgbNEkqOother,p=" + b64(Array(repeating: 1, count: 32)))), .invalidEncoding)
        XCTAssertEqual(m.phase, .authorization)
    }

    // RFC 5802 §7: "c=" must repeat the gs2-header (biws is "n,,").
    func testChannelBindingAttributeMustRepeatTheHeader() {
        var m = machine()
        _ = serverFirst(&m, clientFirst: "n,,n=user,r=abc")
        refusal(send(&m, b64("c=eSws,r=abc\(Self.serverNonce),p=" + b64(Array(repeating: 1, count: 32)))), .channelBindingsDontMatch)
    }

    // RFC 5802 §6: -PLUS with tls-server-end-point: "c=" carries the header and the binding data.
    func testPlusWithServerEndPoint() {
        var m = machine(tls: true)
        let header = "p=tls-server-end-point,,"
        XCTAssertNotNil(continuation(serverFirst(&m, mechanism: "SCRAM-SHA-256-PLUS", clientFirst: header + "n=user,r=abc")))
        let c = b64(Array(header.utf8) + Self.endPoint)
        // A proof that does not match: the binding was accepted, so the exchange reaches the proof.
        XCTAssertEqual(send(&m, b64("c=\(c),r=abc\(Self.serverNonce),p=" + b64(Array(repeating: 1, count: 32)))),
                       .authenticate(.scram(user: "user", proofValid: false)))
    }

    func testPlusWithOtherBindingDataIsRefused() {
        var m = machine(tls: true)
        let header = "p=tls-server-end-point,,"
        _ = serverFirst(&m, mechanism: "SCRAM-SHA-256-PLUS", clientFirst: header + "n=user,r=abc")
        let c = b64(Array(header.utf8) + Array(repeating: 0xCD, count: 32))
        refusal(send(&m, b64("c=\(c),r=abc\(Self.serverNonce),p=" + b64(Array(repeating: 1, count: 32)))), .channelBindingsDontMatch)
    }

    // RFC 5802 §6, §7: a binding type this connection cannot give (tls-exporter without an exporter secret: TLS 1.2),
    // or one Poplar never offers (tls-unique), is refused.
    func testUnsupportedBindingType() {
        for type in ["tls-exporter", "tls-unique", "x-made-up"] {
            var m = machine(tls: true)
            XCTAssertEqual(send(&m, "AUTH SCRAM-SHA-256-PLUS"), .send(.continuation("")))
            refusal(send(&m, b64("p=\(type),,n=user,r=abc")), .unsupportedChannelBindingType)
        }
    }

    // RFC 5802 §6: "y" from a client while the server offers -PLUS on this connection is a downgrade.
    func testDowngradeDetection() {
        var m = machine(tls: true)
        XCTAssertEqual(send(&m, "AUTH SCRAM-SHA-256"), .send(.continuation("")))
        refusal(send(&m, b64("y,,n=user,r=abc")), .serverDoesSupportChannelBinding)
        // Without TLS the server offers no -PLUS, so "y" is fine (and c= is "y,,").
        var plain = machine()
        XCTAssertNotNil(continuation(serverFirst(&plain, clientFirst: "y,,n=user,r=abc")))
        XCTAssertEqual(send(&plain, b64("c=\(b64("y,,")),r=abc\(Self.serverNonce),p=" + b64(Array(repeating: 1, count: 32)))),
                       .authenticate(.scram(user: "user", proofValid: false)))
    }

    // RFC 5802 §6: -PLUS without binding, or a binding asked under the plain mechanism, is refused.
    func testBindingFlagMustFitTheMechanism() {
        var m = machine(tls: true)
        _ = send(&m, "AUTH SCRAM-SHA-256-PLUS")
        refusal(send(&m, b64("n,,n=user,r=abc")), .channelBindingNotSupported)
        var n = machine(tls: true)
        _ = send(&n, "AUTH SCRAM-SHA-256")
        refusal(send(&n, b64("p=tls-server-end-point,,n=user,r=abc")), .channelBindingNotSupported)
    }

    // CAPA and bare AUTH: SCRAM-SHA-256 when enabled; -PLUS only over TLS with a binding (RFC 5802 §6).
    func testOfferedMechanisms() {
        XCTAssertTrue(machine().authorizationCapabilities().contains("SASL PLAIN LOGIN SCRAM-SHA-256"))
        XCTAssertTrue(machine(tls: true).authorizationCapabilities().contains("SASL PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS"))
        XCTAssertTrue(machine(scram: false).authorizationCapabilities().contains("SASL PLAIN LOGIN"))
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH SCRAM-SHA-256-PLUS"), .send(.err(nil, "unsupported authentication mechanism")))
        var off = machine(scram: false)
        XCTAssertEqual(send(&off, "AUTH SCRAM-SHA-256"), .send(.err(nil, "unsupported authentication mechanism")))
    }

    // STLS: the bindings of the new channel arrive with tlsEstablished, and -PLUS is offered from then on.
    func testPlusAfterSTLS() {
        var m = POP3SessionStateMachine(configuration: .init(scramEnabled: true, tlsAvailable: true))
        _ = m.start()
        guard case .startTLS = send(&m, "STLS") else { return XCTFail("no STLS") }
        _ = m.tlsEstablished(channelBindings: [.tlsServerEndPoint: Self.endPoint])
        XCTAssertTrue(m.authorizationCapabilities().contains("SASL PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS"))
    }

    // RFC 5802 §7: the grammar. Extensions ("m=") are refused; saslname escapes are decoded; others are invalid.
    func testGrammar() throws {
        XCTAssertThrowsError(try SCRAMClientFirst(parsing: Array("n,,m=ext,n=user,r=abc".utf8))) {
            XCTAssertEqual($0 as? SCRAMError, .extensionsNotSupported)
        }
        let escaped = try SCRAMClientFirst(parsing: Array("n,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=abc".utf8))
        XCTAssertEqual(escaped.user, "a,b=c")
        XCTAssertEqual(escaped.authorizationID, "a,b=c")
        XCTAssertEqual(escaped.gs2Header, Array("n,a=a=2Cb=3Dc,".utf8))
        XCTAssertEqual(escaped.bare, Array("n=a=2Cb=3Dc,r=abc".utf8))
        for bad in ["n,,n=a=41,r=abc", "n,,n=a=2,r=abc", "n,,n=a=", "x,,n=u,r=abc", "n,,r=abc,n=u", "n,,n=u", "n,,n=u,r=",
                    "n,,n=,r=abc", "n,,n=u,r=a b", "p=,,n=u,r=abc", "p=a_b,,n=u,r=abc", "n,b=x,n=u,r=abc", "", ",,", "n,,n=u,r=a\u{7F}"] {
            XCTAssertThrowsError(try SCRAMClientFirst(parsing: Array(bad.utf8)), bad)
        }
        let final = try SCRAMClientFinal(parsing: Array("c=biws,r=abc,x=ext,p=AAAA".utf8))
        XCTAssertEqual(final.withoutProof, Array("c=biws,r=abc,x=ext".utf8))
        XCTAssertEqual(final.proof, [0, 0, 0])
        for bad in ["c=biws,r=abc", "r=abc,c=biws,p=AAAA", "c=,r=abc,p=AAAA", "c=biws,r=abc,p=A", "c=biws,r=,p=AAAA", "p=AAAA"] {
            XCTAssertThrowsError(try SCRAMClientFinal(parsing: Array(bad.utf8)), bad)
        }
    }

    // The authzid must be empty or the user (Poplar does not log in as someone else).
    func testAuthorizationIdentity() {
        var m = machine()
        _ = send(&m, "AUTH SCRAM-SHA-256")
        XCTAssertEqual(send(&m, b64("n,a=admin,n=user,r=abc")), .send(.err(.auth, "authorization identity must be empty or equal the user")))
    }

    // RFC 5034 §4: "*" cancels at every step; a store that cannot answer is [SYS/TEMP] (RFC 3206 §4).
    func testCancelAndUnavailable() {
        var m = machine()
        _ = serverFirst(&m, clientFirst: "n,,n=user,r=abc")
        XCTAssertEqual(send(&m, "*"), .send(.err(nil, "authentication cancelled")))
        XCTAssertEqual(m.phase, .authorization)
        var n = machine()
        _ = send(&n, "AUTH SCRAM-SHA-256")
        _ = send(&n, b64("n,,n=user,r=abc"))
        XCTAssertEqual(send(&n, "NOOP"), .send(.err(nil, "busy: one command at a time")))
        XCTAssertEqual(n.scramKeysLoaded(.unavailable("mail store unavailable")), .send(.err(.sysTemp, "mail store unavailable")))
        XCTAssertEqual(n.phase, .authorization)
        // An answer that comes when nothing waits for it changes nothing.
        XCTAssertEqual(n.scramKeysLoaded(.keys(Self.rfcKeys)), .none)
    }

    // After the server-final continuation anything but an empty response fails the exchange.
    func testNonEmptyAnswerToServerFinal() {
        var m = machine()
        _ = serverFirst(&m, clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        _ = send(&m, b64(final))
        refusal(send(&m, b64("more")), .otherError)
    }

    func testProofCheck() {
        let keys = Self.rfcKeys
        XCTAssertFalse(keys.verify(proof: [1, 2, 3], authMessage: []))
        XCTAssertEqual(keys.storedKey, Self.hex("586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6"))
        XCTAssertEqual(keys.serverKey, Self.hex("c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5"))
    }
}
