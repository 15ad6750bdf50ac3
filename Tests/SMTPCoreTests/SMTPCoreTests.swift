import XCTest

@testable import SMTPCore

final class SMTPParserTests: XCTestCase {
    func parse(_ s: String) -> Result<SMTPCommand, SMTPParseError> { SMTPCommandParser.parse(Array(s.utf8)) }

    // RFC 5321 §4.1.1, RFC 2033 §4.1, RFC 1870 SIZE, RFC 6152 BODY=8BITMIME.
    func testCommands() {
        let table: [(String, SMTPCommand)] = [
            ("LHLO client.example", .lhlo("client.example")),
            ("ehlo x", .ehlo("x")), ("HELO x", .helo("x")),
            ("MAIL FROM:<a@b.c>", .mail(from: "a@b.c", parameters: [:])),
            ("mail from:<a@b.c> SIZE=100 BODY=8BITMIME", .mail(from: "a@b.c", parameters: ["SIZE": "100", "BODY": "8BITMIME"])),
            ("MAIL FROM: <a@b.c>", .mail(from: "a@b.c", parameters: [:])),
            ("MAIL FROM:<>", .mail(from: "", parameters: [:])),
            ("RCPT TO:<u@example.test>", .rcpt(to: "u@example.test", parameters: [:])),
            ("RCPT TO:<@relay.example:u@example.test>", .rcpt(to: "u@example.test", parameters: [:])),
            ("DATA", .data), ("RSET", .rset), ("NOOP", .noop), ("NOOP anything", .noop), ("QUIT", .quit),
            ("VRFY x", .vrfy), ("STARTTLS", .starttls), ("HELP", .help),
        ]
        for (line, expected) in table { XCTAssertEqual(parse(line), .success(expected), line) }
    }

    func testErrors() {
        XCTAssertEqual(parse("BDAT 10"), .failure(.unknownCommand))
        for bad in ["MAIL a@b", "MAIL FROM:a@b", "RCPT TO:<>", "RCPT TO:<a b@c>", "LHLO", "DATA x", "QUIT now", "MAIL FROM:<a@b", "RCPT <a@b>",
                    "RCPT TO:<" + String(repeating: "a", count: 300) + "@b>"] {
            guard case .failure(.syntax) = parse(bad) else { return XCTFail("\(bad): \(parse(bad))") }
        }
        guard case .failure = SMTPCommandParser.parse([0x4E, 0x4F, 0x00, 0x4F, 0x50]) else { return XCTFail("NUL accepted") }
    }

    func testReplyEncoding() {
        XCTAssertEqual(String(decoding: SMTPReply(250, "2.1.5", "ok").encoded(), as: UTF8.self), "250 2.1.5 ok\r\n")
        XCTAssertEqual(String(decoding: SMTPReply(code: 250, enhanced: nil, lines: ["h", "PIPELINING"]).encoded(), as: UTF8.self), "250-h\r\n250 PIPELINING\r\n")
    }
}

final class DataDecoderTests: XCTestCase {
    func decode(_ s: String, chunk: Int, max: Int = 1 << 20) -> (String, Int, Bool) {
        var d = DataDecoder(maxSize: max)
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        var used = 0
        while i < bytes.count && !d.finished {
            let piece = bytes[i..<Swift.min(bytes.count, i + chunk)]
            used += d.decode(piece, into: &out)
            i += chunk
        }
        return (String(decoding: out, as: UTF8.self), used, d.tooLarge)
    }

    // RFC 5321 §4.5.2: dot-unstuffing, the terminator, bytes after it left for the next command.
    func testUnstuffAndTerminatorAtEverySplit() {
        let input = "Subject: x\r\n..dot\r\n.\r\nQUIT\r\n"
        let expectedUsed = input.utf8.count - "QUIT\r\n".utf8.count
        for chunk in 1...input.utf8.count {
            let (out, used, big) = decode(input, chunk: chunk)
            XCTAssertEqual(out, "Subject: x\r\n.dot\r\n", "chunk \(chunk)")
            XCTAssertEqual(used, expectedUsed, "chunk \(chunk): the bytes after the terminator are left")
            XCTAssertFalse(big)
        }
    }

    func testBareLFIsNoTerminatorAndEightBitKept() {
        var d = DataDecoder(maxSize: 100)
        var out: [UInt8] = []
        _ = d.decode([0x61, 0x0A, 0x62, 0xFF, 0x0A, 0x2E, 0x0A], into: &out)
        XCTAssertFalse(d.finished, "RFC 5321 §4.1.1.4: only <CRLF>.<CRLF> ends DATA")
        XCTAssertTrue(d.bareLineEnding, "RFC 5321 §2.3.8")
        XCTAssertEqual(out, [0x61, 0x0A, 0x62, 0xFF, 0x0A, 0x2E, 0x0A], "8-bit kept, the lone dot is content")
        XCTAssertEqual(decode(".\r\n", chunk: 1).0, "", "empty message")
        XCTAssertEqual(decode(".x\r\n.\r\n", chunk: 1).0, "x\r\n")
    }

    func testTooLargeKeepsReadingToTheEnd() {
        let body = String(repeating: "a", count: 100) + "\r\n.\r\n"
        let (out, _, big) = decode(body, chunk: 7, max: 10)
        XCTAssertTrue(big)
        XCTAssertEqual(out.count, 10)
    }
}

final class SMTPSessionTests: XCTestCase {
    func machine(_ mode: SMTPMode, _ configure: (inout SMTPSessionConfiguration) -> Void = { _ in }) -> SMTPSessionStateMachine {
        var c = SMTPSessionConfiguration(mode: mode, hostname: "mx.test", maxMessageSize: 1000, maxRecipients: 3)
        configure(&c)
        var m = SMTPSessionStateMachine(configuration: c)
        _ = m.start()
        return m
    }

    func send(_ m: inout SMTPSessionStateMachine, _ s: String) -> SMTPAction { m.receive(line: Array(s.utf8)) }

    func code(_ a: SMTPAction) -> Int? {
        switch a {
        case .send(let r), .sendAndClose(let r), .receiveData(let r), .startTLS(let r): return r.code
        case .none, .sendAll, .checkRecipient, .deliver: return nil
        }
    }

    // RFC 2033 §4: LHLO, one reply per recipient after DATA.
    func testLMTPTransaction() {
        var m = machine(.lmtp)
        XCTAssertEqual(code(send(&m, "EHLO x")), 500, "LMTP wants LHLO")
        guard case .send(let lhlo) = send(&m, "LHLO client") else { return XCTFail() }
        XCTAssertEqual(lhlo.lines, ["mx.test", "PIPELINING", "8BITMIME", "SIZE 1000", "ENHANCEDSTATUSCODES"])
        XCTAssertEqual(code(send(&m, "RCPT TO:<a@x>")), 503, "RCPT before MAIL")
        XCTAssertEqual(code(send(&m, "DATA")), 503, "DATA before MAIL")
        XCTAssertEqual(code(send(&m, "MAIL FROM:<s@y> SIZE=10")), 250)
        XCTAssertEqual(code(send(&m, "MAIL FROM:<s@y>")), 503, "nested MAIL")
        XCTAssertEqual(code(send(&m, "DATA")), 503, "DATA without RCPT")
        XCTAssertEqual(send(&m, "RCPT TO:<a@x>"), .checkRecipient(address: "a@x", declaredSize: 10))
        XCTAssertTrue(m.isBusy)
        XCTAssertEqual(m.recipientChecked(SMTPReply(250, "2.1.5", "ok")), .send(SMTPReply(250, "2.1.5", "ok")))
        _ = send(&m, "RCPT TO:<b@x>")
        _ = m.recipientChecked(SMTPReply(550, "5.1.1", "no"))
        _ = send(&m, "RCPT TO:<c@x>")
        _ = m.recipientChecked(SMTPReply(250, "2.1.5", "ok"))
        XCTAssertEqual(code(send(&m, "DATA")), 354)
        XCTAssertEqual(m.dataReceived(.complete), .deliver(SMTPEnvelope(helo: "client", from: "s@y", recipients: ["a@x", "c@x"])))
        let replies = [SMTPReply(250, "2.0.0", "a"), SMTPReply(552, "5.2.2", "full")]
        XCTAssertEqual(m.deliveryCompleted(replies), .sendAll(replies))
        XCTAssertEqual(code(send(&m, "MAIL FROM:<>")), 250, "a new transaction; null reverse-path")
        XCTAssertEqual(code(send(&m, "RSET")), 250)
        XCTAssertEqual(code(send(&m, "RCPT TO:<a@x>")), 503, "RSET ended the transaction")
        XCTAssertEqual(send(&m, "QUIT"), .sendAndClose(SMTPReply(221, "2.0.0", "mx.test closing connection")))
    }

    func testSizeLimitsAndRecipientLimit() {
        var m = machine(.lmtp)
        _ = send(&m, "LHLO c")
        XCTAssertEqual(send(&m, "MAIL FROM:<s@y> SIZE=1001"), .send(SMTPReply(552, "5.3.4", "message size exceeds the limit of 1000 bytes")))
        XCTAssertEqual(code(send(&m, "MAIL FROM:<s@y> BODY=BINARYMIME")), 555)
        XCTAssertEqual(code(send(&m, "MAIL FROM:<s@y> SIZE=abc")), 501)
        _ = send(&m, "MAIL FROM:<s@y>")
        for i in 0..<3 {
            _ = send(&m, "RCPT TO:<r\(i)@x>")
            _ = m.recipientChecked(SMTPReply(250, "2.1.5", "ok"))
        }
        XCTAssertEqual(send(&m, "RCPT TO:<r4@x>"), .send(SMTPReply(452, "4.5.3", "too many recipients")))
        _ = send(&m, "DATA")
        XCTAssertEqual(m.dataReceived(.tooLarge), .sendAll(Array(repeating: SMTPReply(552, "5.3.4", "message too large"), count: 3)))
    }

    // RFC 5321: SMTP has one reply after DATA; EHLO/HELO, STARTTLS (RFC 3207).
    func testSMTP() {
        var m = machine(.smtp) { $0.tlsAvailable = true }
        XCTAssertEqual(code(send(&m, "LHLO x")), 500)
        XCTAssertEqual(code(send(&m, "MAIL FROM:<a@b>")), 503, "EHLO first")
        guard case .send(let ehlo) = send(&m, "EHLO x") else { return XCTFail() }
        XCTAssertTrue(ehlo.lines.contains("STARTTLS"))
        XCTAssertEqual(send(&m, "STARTTLS"), .startTLS(SMTPReply(220, "2.0.0", "ready to start TLS")))
        _ = m.tlsEstablished()
        XCTAssertEqual(code(send(&m, "MAIL FROM:<a@b>")), 503, "EHLO again after TLS")
        guard case .send(let again) = send(&m, "EHLO x") else { return XCTFail() }
        XCTAssertFalse(again.lines.contains("STARTTLS"))
        XCTAssertEqual(code(send(&m, "STARTTLS")), 502)
        _ = send(&m, "MAIL FROM:<a@b>")
        _ = send(&m, "RCPT TO:<c@d>")
        _ = m.recipientChecked(SMTPReply(250, "2.1.5", "ok"))
        _ = send(&m, "DATA")
        _ = m.dataReceived(.complete)
        XCTAssertEqual(m.deliveryCompleted([SMTPReply(451, "4.3.0", "down")]), .send(SMTPReply(451, "4.3.0", "down")))
        var h = machine(.smtp)
        guard case .send(let helo) = send(&h, "HELO x") else { return XCTFail() }
        XCTAssertEqual(helo.lines, ["mx.test"])
    }

    func testBadCommandsAndTimeouts() {
        var m = machine(.lmtp) { $0.maxBadCommands = 2 }
        XCTAssertEqual(code(send(&m, "XYZ")), 500)
        XCTAssertEqual(send(&m, "XYZ"), .sendAndClose(SMTPReply(421, "4.7.0", "too many errors, closing")))
        var t = machine(.smtp)
        XCTAssertEqual(code(t.timedOut()), 421)
        var l = machine(.smtp)
        XCTAssertEqual(l.lineTooLong(), .send(SMTPReply(500, "5.5.6", "line too long")))
    }
}

/// RFC 5321 §4.2: reply text is a textstring (HT, printable ASCII); nothing a caller puts in it can break a line.
final class SMTPReplyTextTests: XCTestCase {
    func testReplyTextIsPrintableASCIIWhateverItHolds() {
        let reply = SMTPReply(550, "5.5.2", "x\r\n250 forged §")
        XCTAssertEqual(String(decoding: reply.encoded(), as: UTF8.self), "550 5.5.2 x??250 forged ??\r\n")
        for line in SMTPSessionStateMachine.bareLineEndingReply.encoded().split(separator: 0x0A) {
            XCTAssertTrue(line.allSatisfy { $0 == 0x09 || $0 == 0x0D || (0x20...0x7E).contains($0) })
        }
    }
}
