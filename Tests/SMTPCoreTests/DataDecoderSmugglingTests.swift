import XCTest

@testable import SMTPCore

/// SMTP smuggling: only <CRLF>.<CRLF> ends DATA (RFC 5321 §4.1.1.4, §4.5.2); a bare LF or CR (§2.3.8) is
/// recorded and refuses the message, or, with `normalizeBareLineEndings`, becomes CRLF. Every fixture is also
/// decoded split at every offset and byte by byte, as swift-nio-imap tests its parsers: same result.
final class DataDecoderSmugglingTests: XCTestCase {
    struct Decoded: Equatable {
        var output: [UInt8]
        var used: Int
        var finished: Bool
        var bare: Bool
        var outcome: DataOutcome?
    }

    struct Fixture {
        var input: String
        var output: String
        /// nil: not finished, all input used.
        var outcome: DataOutcome?
        /// Bytes left for the next command.
        var rest: Int = 0
        var clause: String
    }

    static func decode(_ chunks: [ArraySlice<UInt8>], max: Int, normalize: Bool) -> Decoded {
        var d = DataDecoder(maxSize: max, normalizeBareLineEndings: normalize)
        var out: [UInt8] = []
        var used = 0
        for chunk in chunks where !d.finished { used += d.decode(chunk, into: &out) }
        return Decoded(output: out, used: used, finished: d.finished, bare: d.bareLineEnding, outcome: d.outcome)
    }

    /// Whole, split at each offset, and one byte at a time: all the same.
    func check(_ fixtures: [Fixture], max: Int = 1 << 20, normalize: Bool) {
        for f in fixtures {
            let input = Array(f.input.utf8)
            let whole = Self.decode([input[...]], max: max, normalize: normalize)
            XCTAssertEqual(whole, Decoded(output: Array(f.output.utf8), used: input.count - f.rest, finished: f.outcome != nil,
                                          bare: whole.bare, outcome: f.outcome), f.clause)
            var splitsAgree = true
            for k in 0...input.count where Self.decode([input[..<k], input[k...]], max: max, normalize: normalize) != whole { splitsAgree = false }
            XCTAssertTrue(splitsAgree, "split at every offset: \(f.clause)")
            XCTAssertEqual(Self.decode(input.indices.map { input[$0...$0] }, max: max, normalize: normalize), whole, "byte by byte: \(f.clause)")
        }
    }

    func testRejectModeFixtures() {
        check([
            Fixture(input: "a\r\n.\r\n", output: "a\r\n", outcome: .complete, clause: "§4.1.1.4: <CRLF>.<CRLF> ends DATA"),
            Fixture(input: ".\r\n", output: "", outcome: .complete, clause: "§4.1.1.4: DATA begins at a line start, so . CRLF first is an empty message"),
            Fixture(input: ".\r\nQUIT\r\n", output: "", outcome: .complete, rest: 6, clause: "bytes after the end are the next command's"),
            Fixture(input: "a\n.\nb\r\n.\r\n", output: "a\n.\nb\r\n", outcome: .bareLineEnding, clause: "§2.3.8: <LF>.<LF> does not end DATA"),
            Fixture(input: "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", output: "a\r\n.\nMAIL FROM:<x@y>\r\n", outcome: .bareLineEnding,
                    clause: "smuggling: <CRLF>.<LF> does not end DATA"),
            Fixture(input: "a\n.\r\nb\r\n.\r\n", output: "a\n.\r\nb\r\n", outcome: .bareLineEnding, clause: "smuggling: <LF>.<CRLF> does not end DATA"),
            Fixture(input: "a\r.\rb\r\n.\r\n", output: "a\r.\rb\r\n", outcome: .bareLineEnding, clause: "§2.3.8: <CR>.<CR> does not end DATA"),
            Fixture(input: "a\r\n.\r.\r\n.\r\n", output: "a\r\n.\r.\r\n", outcome: .bareLineEnding, clause: "smuggling: <CRLF>.<CR> does not end DATA"),
            Fixture(input: "a\r\r\n.\r\n", output: "a\r\r\n", outcome: .bareLineEnding, clause: "§2.3.8: a CR before CRLF is bare"),
            Fixture(input: "a\nb\r\n.\r\n", output: "a\nb\r\n", outcome: .bareLineEnding, clause: "§2.3.8: one bare LF anywhere refuses"),
            Fixture(input: "a\r\n.\n", output: "a\r\n.\n", outcome: nil, clause: "<CRLF>.<LF> at the end of the input: still reading"),
            Fixture(input: "..x\r\n.\r\n", output: ".x\r\n", outcome: .complete, clause: "§4.5.2: dot-stuffing on the first line"),
            Fixture(input: "x\r\n..\r\n.\r\n", output: "x\r\n.\r\n", outcome: .complete, clause: "§4.5.2: a stuffed lone dot"),
            Fixture(input: "\r\n.\r\n", output: "\r\n", outcome: .complete, clause: "an empty first line"),
            Fixture(input: "\u{e9}\u{0}\r\n.\r\n", output: "\u{e9}\u{0}\r\n", outcome: .complete, clause: "RFC 6152: 8-bit and NUL kept"),
        ], normalize: false)
    }

    func testNormalizeModeFixtures() {
        check([
            Fixture(input: "a\nb\r\n.\r\n", output: "a\r\nb\r\n", outcome: .complete, clause: "a bare LF becomes CRLF"),
            Fixture(input: "a\rb\r\n.\r\n", output: "a\r\nb\r\n", outcome: .complete, clause: "a bare CR becomes CRLF"),
            Fixture(input: "a\n.\nb\r\n.\r\n", output: "a\r\n.\r\nb\r\n", outcome: .complete, clause: "<LF>.<LF> still does not end DATA"),
            Fixture(input: "a\n.\r\n.\r\n", output: "a\r\n.\r\n", outcome: .complete, clause: "<LF>.<CRLF> does not end DATA; the next . does"),
            Fixture(input: "a\r\n.\r\r\n.\r\n", output: "a\r\n.\r\n\r\n", outcome: .complete, clause: "<CRLF>.<CR> does not end DATA"),
            Fixture(input: "a\n..b\r\n.\r\n", output: "a\r\n.b\r\n", outcome: .complete, clause: "§4.5.2 unstuffing after a normalized line end"),
            Fixture(input: "a\r\n.\n", output: "a\r\n.\r\n", outcome: nil, clause: "<CRLF>.<LF> at the end of the input: still reading"),
        ], normalize: true)
    }

    func testRecordsBareLineEndingWhenNormalizing() {
        let d = Self.decode([Array("a\nb\r\n.\r\n".utf8)[...]], max: 100, normalize: true)
        XCTAssertTrue(d.bare, "§2.3.8: recorded even when normalized (for logs)")
    }

    // RFC 1870 §6.2: past the limit the rest is read and dropped; the size wins over a bare line end.
    func testSizeLimitWithBareLineEnds() {
        check([
            Fixture(input: "aaaaaaaaaaaa\r\n.\r\n", output: "aaaaaaaaaa", outcome: .tooLarge, clause: "too large: 10 kept, read to the end"),
            Fixture(input: "aaaaaaaaaaaa\n\r\n.\r\n", output: "aaaaaaaaaa", outcome: .tooLarge, clause: "too large and bare: 552, the size first"),
        ], max: 10, normalize: false)
        check([
            Fixture(input: "aaaaaaaa\n\r\n.\r\n", output: "aaaaaaaa\r\n", outcome: .tooLarge, clause: "a normalized LF counts two octets"),
        ], max: 10, normalize: true)
    }

    // RFC 5321 §2.3.8 after Postfix `smtpd_forbid_bare_newline = reject`: 550 5.5.2 for every recipient, nothing delivered.
    func testStateMachineRefusesBareLineEnding() {
        for (mode, expected) in [(SMTPMode.lmtp, SMTPAction.sendAll([SMTPSessionStateMachine.bareLineEndingReply, SMTPSessionStateMachine.bareLineEndingReply])),
                                 (.smtp, .send(SMTPSessionStateMachine.bareLineEndingReply))] {
            var m = SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(mode: mode))
            _ = m.start()
            _ = m.receive(line: bytes(mode == .lmtp ? "LHLO c" : "EHLO c"))
            _ = m.receive(line: bytes("MAIL FROM:<s@y.test>"))
            for r in ["a@x.test", "b@x.test"] {
                _ = m.receive(line: bytes("RCPT TO:<\(r)>"))
                _ = m.recipientChecked(SMTPReply(250, "2.1.5", "ok"))
            }
            _ = m.receive(line: bytes("DATA"))
            XCTAssertEqual(m.dataReceived(.bareLineEnding), expected, "\(mode): a refusal per recipient, no .deliver")
            XCTAssertEqual(m.receive(line: bytes("MAIL FROM:<s@y.test>")).code, 250, "\(mode): the transaction is over, the session goes on")
        }
        XCTAssertEqual(SMTPSessionStateMachine.bareLineEndingReply.code, 550, "Postfix smtpd_forbid_bare_newline_reject_code default")
        XCTAssertEqual(SMTPSessionStateMachine.bareLineEndingReply.enhanced, "5.5.2", "RFC 3463: syntax error")
    }

    func testMakeDataDecoderFollowsTheConfiguration() {
        let plain = SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(mode: .smtp, maxMessageSize: 77))
        let normalizing = SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(mode: .smtp, normalizeBareLineEndings: true))
        XCTAssertEqual(plain.makeDataDecoder().maxSize, 77, "the session's size limit")
        XCTAssertFalse(plain.makeDataDecoder().normalizeBareLineEndings, "off by default: refuse")
        XCTAssertTrue(normalizing.makeDataDecoder().normalizeBareLineEndings, "normalizing when configured")
    }
}
