import XCTest

@testable import POP3Core

/// AUTH NTLM ([MS-NLMP] §2.2.1, [MS-POP3] §2.2.1.1) in the pure machine: the message grammar, the CHALLENGE the server
/// builds, NTLMv1 and LM refused, off unless configured.
final class NTLMTests: XCTestCase {
    let challenge: [UInt8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]

    func machine(ntlm: Bool = true) -> POP3SessionStateMachine {
        var m = POP3SessionStateMachine(configuration: .init(ntlmEnabled: ntlm, ntlmChallenge: challenge, ntlmTarget: "POPLAR",
                                                             plaintextAllowedWithoutTLS: false))
        _ = m.start()
        return m
    }

    func send(_ m: inout POP3SessionStateMachine, _ line: String) -> POP3Action { m.receive(line: Array(line.utf8)) }
    func b64(_ bytes: [UInt8]) -> String { SASLCodec.encode(bytes) }

    /// A NEGOTIATE message as curl sends it (signature, type 1, flags, empty domain and workstation).
    let negotiate: [UInt8] = Array("NTLMSSP".utf8) + [0, 1, 0, 0, 0, 0x07, 0x82, 0x08, 0xA2] + [UInt8](repeating: 0, count: 16)

    /// An AUTHENTICATE message: LM and NT responses, domain, user and workstation in UTF-16LE, flags at 60.
    func authenticate(user: String, domain: String = "", nt: [UInt8], unicode: Bool = true) -> [UInt8] {
        func encode(_ text: String) -> [UInt8] { unicode ? NTLM.utf16le(text) : Array(text.utf8) }
        let lm = [UInt8](repeating: 0, count: 24), d = encode(domain), u = encode(user), w = encode("WS")
        var payload: [UInt8] = [], fields: [UInt8] = []
        for field in [lm, nt, d, u, w, []] {
            let offset = 64 + payload.count
            fields += NTLM.le16(UInt16(field.count)) + NTLM.le16(UInt16(field.count)) + NTLM.le32v(UInt32(offset))
            payload += field
        }
        return NTLM.signature + NTLM.le32v(3) + fields + NTLM.le32v(unicode ? 0xA288_8205 : 0xA288_8204) + payload
    }

    func v2Response(_ proof: [UInt8] = [UInt8](repeating: 0x5A, count: 16)) -> [UInt8] {
        proof + [1, 1, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 8) + [UInt8](repeating: 0xAA, count: 8) + [0, 0, 0, 0]
            + [0, 0, 0, 0]
    }

    func testExchangeAndChallengeContents() throws {
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH NTLM"), .send(.continuation("")))
        guard case .send(.continuation(let text)) = send(&m, b64(negotiate)) else { return XCTFail("no challenge") }
        let message = try XCTUnwrap(SASLCodec.decode(text))
        XCTAssertEqual(Array(message.prefix(8)), NTLM.signature)
        XCTAssertEqual(NTLM.le32(message, 8), 2)
        XCTAssertEqual(Array(message[24..<32]), challenge, "the server challenge at offset 24")
        XCTAssertEqual(try NTLM.field(message, at: 12), NTLM.utf16le("POPLAR"), "the target name")
        let info = try NTLM.field(message, at: 40)
        XCTAssertEqual(Array(info.suffix(4)), [0, 0, 0, 0], "target info ends with MsvAvEOL")
        XCTAssertNotEqual(NTLM.le32(message, 20) & 0x0080_0000, 0, "TARGET_INFO flag: clients answer NTLMv2")
        let response = v2Response()
        XCTAssertEqual(send(&m, b64(authenticate(user: "alice@example.test", domain: "EXAMPLE", nt: response))),
                       .authenticate(.ntlm(user: "alice@example.test", domain: "EXAMPLE", challenge: challenge, response: response)))
    }

    func testInitialResponseAndOEMNames() {
        var m = machine()
        guard case .send(.continuation) = send(&m, "AUTH NTLM " + b64(negotiate)) else { return XCTFail("no challenge") }
        XCTAssertEqual(send(&m, b64(authenticate(user: "bob@example.test", nt: v2Response(), unicode: false))),
                       .authenticate(.ntlm(user: "bob@example.test", domain: "", challenge: challenge, response: v2Response())))
    }

    // NTLMv1 (24-byte NT response) and LM only: refused before any password is looked at.
    func testNTLMv1Refused() {
        var m = machine()
        _ = send(&m, "AUTH NTLM " + b64(negotiate))
        XCTAssertEqual(send(&m, b64(authenticate(user: "alice", nt: [UInt8](repeating: 7, count: 24)))),
                       .send(.err(.auth, "NTLM: only NTLMv2 responses are accepted")))
        XCTAssertEqual(m.phase, .authorization)
        _ = send(&m, "AUTH NTLM " + b64(negotiate))
        XCTAssertEqual(send(&m, b64(authenticate(user: "alice", nt: []))), .send(.err(.auth, "NTLM: only NTLMv2 responses are accepted")))
    }

    func testMalformedMessages() {
        var m = machine()
        XCTAssertEqual(send(&m, "AUTH NTLM " + b64(Array("NTLMSSP".utf8) + [0, 3, 0, 0, 0] + [UInt8](repeating: 0, count: 8))),
                       .send(.err(.auth, "NTLM: malformed NEGOTIATE message")))
        _ = send(&m, "AUTH NTLM " + b64(negotiate))
        var message = authenticate(user: "alice", nt: v2Response())
        message[36] = 0xFF  // the user field runs past the message
        XCTAssertEqual(send(&m, b64(message)), .send(.err(.auth, "NTLM: malformed AUTHENTICATE message")))
        _ = send(&m, "AUTH NTLM " + b64(negotiate))
        XCTAssertEqual(send(&m, b64(authenticate(user: "", nt: v2Response()))), .send(.err(.auth, "NTLM: malformed AUTHENTICATE message")))
        _ = send(&m, "AUTH NTLM " + b64(negotiate))
        var badBlob = v2Response()
        badBlob[16] = 2  // the blob's version
        XCTAssertEqual(send(&m, b64(authenticate(user: "alice", nt: badBlob))), .send(.err(.auth, "NTLM: malformed AUTHENTICATE message")))
        _ = send(&m, "AUTH NTLM " + b64(negotiate))
        XCTAssertEqual(send(&m, "*"), .send(.err(nil, "authentication cancelled")))
    }

    // Off by default; offered even without TLS when on (no password crosses the wire), but never in CAPA's
    // plaintext-only list.
    func testOfferedOnlyWhenConfigured() {
        var off = machine(ntlm: false)
        XCTAssertFalse(off.authorizationCapabilities().contains { $0.contains("NTLM") })
        XCTAssertEqual(send(&off, "AUTH NTLM"), .send(.err(nil, "unsupported authentication mechanism")))
        XCTAssertTrue(machine().authorizationCapabilities().contains { $0.hasPrefix("SASL") && $0.contains("NTLM") })
    }
}
