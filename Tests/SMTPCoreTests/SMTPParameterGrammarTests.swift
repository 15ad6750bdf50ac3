import XCTest

@testable import SMTPCore

/// RFC 5321 §4.1.2 parameter grammar and the path, through the parser and the state machine's reply codes:
/// `501 5.5.4` for anything that does not match the grammar, `555 5.5.4` for a well-formed parameter that is
/// not supported (§4.1.1.11, RFC 3463 X.5.4), `552 5.3.4` for a SIZE over the limit (RFC 1870 §6.2).
final class SMTPParameterGrammarTests: XCTestCase {
    let tenKB = String(repeating: "a", count: 10 * 1024)

    /// The reply code to `line` sent as MAIL in a fresh LMTP session after LHLO.
    func mailCode(_ line: [UInt8]) -> Int? {
        var m = SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(mode: .lmtp, maxMessageSize: 1000))
        _ = m.start()
        _ = m.receive(line: bytes("LHLO c"))
        return m.receive(line: line).code
    }

    func testMailFixtures() {
        let p = "MAIL FROM:<a@x.test>"
        let fixtures: [(line: [UInt8], code: Int, clause: String)] = [
            (bytes(p + " ="), 501, "§4.1.2 esmtp-keyword: a lone = has no keyword"),
            (bytes(p + " =value"), 501, "§4.1.2 esmtp-keyword: =value has no keyword"),
            (bytes(p + " SIZE="), 501, "§4.1.2 esmtp-value = 1*(...): KEY= is empty"),
            (bytes(p + " SIZE=1 SIZE=2"), 501, "§4.1.2: a keyword given twice"),
            (bytes(p + " size=1 SIZE=2"), 501, "§2.4: keywords are case-insensitive, so this is twice too"),
            (bytes(p + " BODY=8BIT") + [0xC3, 0xA9], 501, "§4.1.2 esmtp-value %d33-126: 8-bit refused, SMTPUTF8 not offered"),
            (bytes(p + " ") + [0xC3, 0xA9] + bytes("=1"), 501, "§4.1.2 esmtp-keyword: 8-bit refused"),
            (bytes(p + " SIZE=1\tBODY=7BIT"), 501, "§4.1.2: parameters are separated by SP, not HTAB"),
            (bytes(p + "\tSIZE=1"), 501, "§4.1.2: SP before the parameters, not HTAB"),
            (bytes(p + "SIZE=1"), 501, "§4.1.2: SP required between the path and the parameters"),
            (bytes(p + " -X=1"), 501, "§4.1.2 esmtp-keyword starts with ALPHA / DIGIT"),
            (bytes(p + " X_Y=1"), 501, "§4.1.2 esmtp-keyword: _ is not allowed"),
            (bytes(p + " X=a=b"), 501, "§4.1.2 esmtp-value excludes = (%d61)"),
            (bytes(p + " X=" + tenKB), 501, "a 10 KB parameter: SMTPLimits.maxParameterLength"),
            (bytes("MAIL FROM:<" + tenKB + "@x.test>"), 501, "§4.5.3.1.3: a 10 KB path"),
            (bytes("MAIL FROM:<a@x.test" + tenKB), 501, "§4.1.2: a 10 KB path without its >"),
            (bytes(p + " " + (1...9).map { "X\($0)=1" }.joined(separator: " ")), 501, "SMTPLimits.maxParameters"),
            (bytes(p + String(repeating: " ", count: 1000) + "SIZE=10"), 250, "runs of SP between parameters are tolerated"),
            (bytes(p + String(repeating: " ", count: 10 * 1024)), 250, "trailing SP is tolerated"),
            (bytes(p + " SIZE=10 BODY=8BITMIME"), 250, "RFC 1870 SIZE and RFC 6152 BODY"),
            (bytes(p + " X-FOO=1"), 555, "§4.1.1.11: well-formed, not supported"),
            (bytes(p + " SMTPUTF8"), 555, "RFC 6531 SMTPUTF8 is not offered"),
            (bytes(p + " BODY"), 501, "RFC 6152 §2: BODY needs a value"),
            (bytes(p + " BODY=BINARYMIME"), 555, "RFC 3030 BINARYMIME is not offered"),
            (bytes(p + " SIZE=+5"), 501, "RFC 1870 §3 size-value = 1*20DIGIT: no sign"),
            (bytes(p + " SIZE=" + String(repeating: "1", count: 21)), 501, "RFC 1870 §3: at most 20 digits"),
            (bytes(p + " SIZE=99999999999999999999"), 552, "RFC 1870 §6.2: 20 digits, over any limit"),
            (bytes("MAIL FROM:<a") + [0xFF] + bytes("@x.test>"), 501, "a path that is not UTF-8"),
            (bytes("MAIL FROM:<a\u{7F}@x.test>"), 501, "§4.1.2: no controls in a path"),
            (bytes("MAIL FROM:<a\t@x.test>"), 501, "§4.1.2: no HTAB in a path"),
            (bytes("MAIL FROM:<>"), 250, "§4.1.1.2: the null reverse-path"),
            (bytes("MAIL FROM:"), 501, "§4.1.1.2: a reverse-path is required"),
            (bytes("MAIL FROM:<<a@x.test>>"), 501, "§4.1.2: < inside a path"),
            (bytes("MAIL FROM:<a@x.test>>"), 501, "§4.1.2: text after the path must start with SP"),
        ]
        for f in fixtures { XCTAssertEqual(mailCode(f.line), f.code, f.clause) }
    }

    // RFC 5321 §4.1.2: the parsed form of well-formed parameters.
    func testParsedParameters() {
        XCTAssertEqual(SMTPCommandParser.parse(bytes("MAIL FROM:<a@x.test> x-a=1 B")),
                       .success(.mail(from: "a@x.test", parameters: ["X-A": "1", "B": ""])), "keywords uppercased, no value is \"\"")
        XCTAssertEqual(SMTPCommandParser.parse(bytes("MAIL FROM:<a@x.test> =")), .failure(.syntax("invalid parameter keyword")),
                       "the crash of old: a lone =")
        XCTAssertEqual(SMTPCommandParser.parse(bytes("MAIL FROM:<a@x.test> SIZE=1 SIZE=2")), .failure(.syntax("duplicate parameter SIZE")),
                       "§4.1.2: a repeated keyword is named")
        XCTAssertEqual(SMTPCommandParser.parse(bytes("RCPT TO:<b@x.test> NOTIFY=")), .failure(.syntax("invalid parameter value")),
                       "§4.1.1.3 Rcpt-parameters share the grammar")
    }

    // RFC 5321 §4.1.1.3: RCPT parameters (none offered): syntax 501, well-formed 555.
    func testRcptParameterCodes() {
        var m = SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(mode: .smtp))
        _ = m.start()
        _ = m.receive(line: bytes("EHLO c"))
        _ = m.receive(line: bytes("MAIL FROM:<a@x.test>"))
        XCTAssertEqual(m.receive(line: bytes("RCPT TO:<b@x.test> =")).code, 501, "§4.1.2: a lone =")
        XCTAssertEqual(m.receive(line: bytes("RCPT TO:<b@x.test> NOTIFY=NEVER")).code, 555, "RFC 3461 DSN is not offered")
    }

    // RFC 5321 §4.1.1.1: HELO/EHLO/LHLO take an ASCII domain or address literal.
    func testGreetingArgument() {
        XCTAssertEqual(SMTPCommandParser.parse(bytes("LHLO \tc.test ")), .success(.lhlo("c.test")), "surrounding SP/HTAB trimmed")
        XCTAssertEqual(SMTPCommandParser.parse(bytes("EHLO [192.0.2.1]")), .success(.ehlo("[192.0.2.1]")), "§4.1.3 address literal")
        XCTAssertEqual(SMTPCommandParser.parse(bytes("EHLO c") + [0xE9]), .failure(.syntax("EHLO needs a domain")), "8-bit: SMTPUTF8 not offered")
        XCTAssertEqual(SMTPCommandParser.parse(bytes("EHLO a\tb")), .failure(.syntax("EHLO needs a domain")), "one domain, no inner HTAB")
    }

    // RFC 5321 §2.4: verbs are case-insensitive, ASCII only (no Unicode case mapping).
    func testVerbCaseIsASCII() {
        XCTAssertEqual(SMTPCommandParser.parse(bytes("qUiT")), .success(.quit), "§2.4 case-insensitive verbs")
        XCTAssertEqual(SMTPCommandParser.parse(bytes("DATA\u{131}")), .failure(.unknownCommand), "no Unicode uppercasing")
    }
}
