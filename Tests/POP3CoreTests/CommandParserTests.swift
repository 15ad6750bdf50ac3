import XCTest

@testable import POP3Core

/// RFC 1939 §3 grammar, RFC 2449 §4 bounds: a fixture table per command.
final class CommandParserTests: XCTestCase {
    func parse(_ s: String) -> Result<POP3Command, POP3ParseError> { POP3CommandParser.parse(Array(s.utf8)) }

    func testValidCommands() {
        let table: [(String, POP3Command)] = [
            ("USER alice@example.test", .user("alice@example.test")),
            ("user alice", .user("alice")),
            ("PASS secret", .pass("secret")),
            ("PASS with spaces  inside ", .pass("with spaces  inside ")),
            ("APOP mrose c4c9334bac560ecc979e58001b3e22fb", .apop(name: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb")),
            ("AUTH", .auth(mechanism: nil, initialResponse: nil)),
            ("auth plain", .auth(mechanism: "PLAIN", initialResponse: nil)),
            ("AUTH PLAIN AGFsaWNlAHB3", .auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHB3")),
            ("AUTH PLAIN =", .auth(mechanism: "PLAIN", initialResponse: "=")),
            ("QUIT", .quit), ("quit", .quit), ("QuIt", .quit),
            ("STAT", .stat), ("NOOP", .noop), ("RSET", .rset), ("CAPA", .capa), ("STLS", .stls),
            ("LIST", .list(nil)), ("LIST 1", .list(1)), ("LIST 2147483647", .list(2_147_483_647)),
            ("UIDL", .uidl(nil)), ("UIDL 7", .uidl(7)),
            ("RETR 1", .retr(1)), ("DELE 3", .dele(3)),
            ("TOP 1 0", .top(message: 1, lines: 0)), ("TOP 2 10", .top(message: 2, lines: 10)),
        ]
        for (line, expected) in table {
            XCTAssertEqual(parse(line), .success(expected), line)
        }
    }

    func testInvalidCommands() {
        let unknown = ["XYZZY", "RETRIEVE 1", "LOGIN a b", "HELO"]
        for line in unknown { XCTAssertEqual(parse(line), .failure(.unknownCommand), line) }
        XCTAssertEqual(parse(""), .failure(.empty))
        let syntax = [
            "RETR", "RETR 0", "RETR -1", "RETR +1", "RETR 1x", "RETR 99999999999", "RETR 1 2", "DELE", "DELE a",
            "LIST 0", "LIST 1 2", "UIDL x", "TOP 1", "TOP 1 -1", "TOP x 1", "STAT 1", "QUIT now", "NOOP x", "RSET 1",
            "CAPA x", "STLS x", "USER", "USER a b", "PASS", "PASS ", "APOP x", "APOP", "RETR  1", "RETR 1 ", "USER ",
            "USER " + String(repeating: "a", count: 256), "AUTH PLAIN a b",
        ]
        for line in syntax {
            guard case .failure(.syntax) = parse(line) else { return XCTFail("\(line) should be a syntax error, got \(parse(line))") }
        }
    }

    func testControlBytesRefused() {
        for line: [UInt8] in [[0x55, 0x53, 0x45, 0x52, 0x00, 0x41], Array("PASS a\u{0}b".utf8), Array("NOOP\u{7}".utf8), [0x1B, 0x5B]] {
            guard case .failure = POP3CommandParser.parse(line) else { return XCTFail("\(line) accepted") }
        }
    }

    func testEightBitArgumentsDoNotCrash() {
        _ = POP3CommandParser.parse([0x55, 0x53, 0x45, 0x52, 0x20, 0xFF, 0xFE, 0xC3])
        _ = POP3CommandParser.parse([0xFF, 0xFF, 0xFF])
    }

    func testCommandNamesNeverCarryArguments() {
        XCTAssertEqual(POP3Command.pass("secret").name, "PASS")
        XCTAssertEqual(POP3Command.auth(mechanism: "PLAIN", initialResponse: "xyz").name, "AUTH")
        XCTAssertEqual(POP3Command.apop(name: "a", digest: "b").name, "APOP")
    }
}

final class ResponseTests: XCTestCase {
    func text(_ r: POP3Response) -> String { String(decoding: r.encoded(), as: UTF8.self) }

    func testEncoding() {
        XCTAssertEqual(text(.ok("2 320")), "+OK 2 320\r\n")
        XCTAssertEqual(text(.ok("")), "+OK\r\n")
        XCTAssertEqual(text(.err(nil, "no such message")), "-ERR no such message\r\n")
        XCTAssertEqual(text(.err(.inUse, "held")), "-ERR [IN-USE] held\r\n")
        XCTAssertEqual(text(.err(.sysTemp, "x")), "-ERR [SYS/TEMP] x\r\n")
        XCTAssertEqual(text(.err(.sysPerm, "x")), "-ERR [SYS/PERM] x\r\n")
        XCTAssertEqual(text(.err(.auth, "x")), "-ERR [AUTH] x\r\n")
        XCTAssertEqual(text(.continuation("")), "+ \r\n")
        XCTAssertEqual(text(.continuation("VXNlcm5hbWU6")), "+ VXNlcm5hbWU6\r\n")
        XCTAssertEqual(text(.multiline("list", ["1 120", ".dot", ""])), "+OK list\r\n1 120\r\n..dot\r\n\r\n.\r\n")
        XCTAssertEqual(text(.multiline("", [])), "+OK\r\n.\r\n")
    }
}

/// More fixture tables: every keyword in every case, numeric edge cases, bounds, control bytes.
final class CommandParserFixtureTests: XCTestCase {
    func parse(_ s: String) -> Result<POP3Command, POP3ParseError> { POP3CommandParser.parse(Array(s.utf8)) }

    func isSyntax(_ line: String, file: StaticString = #filePath, lineNumber: UInt = #line) {
        guard case .failure(.syntax) = parse(line) else {
            return XCTFail("\(line.debugDescription) should be a syntax error, got \(parse(line))", file: file, line: lineNumber)
        }
    }

    /// RFC 1939 §3: keywords are case-insensitive; `name` is the upper-case keyword.
    func testEveryKeywordInEveryCase() {
        let table: [(String, POP3Command)] = [
            ("user a", .user("a")), ("pass b", .pass("b")), ("apop a d", .apop(name: "a", digest: "d")),
            ("auth", .auth(mechanism: nil, initialResponse: nil)), ("quit", .quit), ("stat", .stat), ("list", .list(nil)),
            ("retr 1", .retr(1)), ("dele 1", .dele(1)), ("noop", .noop), ("rset", .rset),
            ("top 1 2", .top(message: 1, lines: 2)), ("uidl", .uidl(nil)), ("capa", .capa), ("stls", .stls),
        ]
        for (line, expected) in table {
            let keyword = String(line.prefix { $0 != " " })
            let rest = line.dropFirst(keyword.count)
            for variant in [keyword.lowercased(), keyword.uppercased(), mixed(keyword)] {
                XCTAssertEqual(parse(variant + rest), .success(expected), variant + rest)
            }
            XCTAssertEqual(expected.name, keyword.uppercased())
        }
    }

    func mixed(_ s: String) -> String {
        String(s.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : Character($0.element.lowercased()) })
    }

    /// Only ASCII letters fold: a dotless i or a ligature does not make a keyword.
    func testNoUnicodeCaseFolding() {
        XCTAssertEqual(parse("qu\u{131}t"), .failure(.unknownCommand))
        XCTAssertEqual(parse("\u{FB06}at"), .failure(.unknownCommand))
        XCTAssertEqual(parse("US\u{C9}R a"), .failure(.unknownCommand))
    }

    /// Message numbers 1...Int32.max, TOP's line count 0...Int32.max; no sign, no non-digits.
    func testNumbers() {
        XCTAssertEqual(parse("RETR 1"), .success(.retr(1)))
        XCTAssertEqual(parse("RETR 007"), .success(.retr(7)))
        XCTAssertEqual(parse("RETR 2147483647"), .success(.retr(2_147_483_647)))
        XCTAssertEqual(parse("TOP 1 0"), .success(.top(message: 1, lines: 0)))
        XCTAssertEqual(parse("TOP 1 2147483647"), .success(.top(message: 1, lines: 2_147_483_647)))
        for bad in ["0", "-1", "+1", "-0", "2147483648", "99999999999999999999999", "1.0", "1e3", "0x1", "١", " 1", "1 "] {
            for command in ["RETR", "DELE", "LIST", "UIDL"] { isSyntax("\(command) \(bad)") }
            isSyntax("TOP \(bad) 1")
        }
        for bad in ["-1", "+1", "+0", "2147483648", "x", "1x"] { isSyntax("TOP 1 \(bad)") }
        isSyntax("TOP 1 2 3")
    }

    /// RFC 2449 §4: the line is at most 255 octets; an argument may use all of it (a long address as USER).
    func testBounds() {
        let longName = String(repeating: "a", count: 64) + "@" + String(repeating: "b", count: 150) + ".test"
        XCTAssertEqual(parse("USER " + longName), .success(.user(longName)))
        let full = "USER " + String(repeating: "u", count: POP3Limits.maxCommandLineLength - 5)
        XCTAssertEqual(full.utf8.count, POP3Limits.maxCommandLineLength)
        XCTAssertEqual(parse(full), .success(.user(String(full.dropFirst(5)))))
        isSyntax(full + "u")
        isSyntax("PASS " + String(repeating: "p", count: POP3Limits.maxCommandLineLength))
        XCTAssertLessThanOrEqual(POP3Limits.maxArgumentLength, POP3Limits.maxCommandLineLength)
        XCTAssertGreaterThan(POP3Limits.maxSASLResponseLength, POP3Limits.maxCommandLineLength)
        // An AUTH line may carry a SASL response as its initial response (mpop's OAUTHBEARER tokens), no more.
        let token = String(repeating: "A", count: POP3Limits.maxSASLResponseLength)
        XCTAssertEqual(parse("AUTH OAUTHBEARER " + token), .success(.auth(mechanism: "OAUTHBEARER", initialResponse: token)))
        isSyntax("AUTH OAUTHBEARER " + token + String(repeating: "A", count: 64))
        isSyntax("USER " + String(repeating: "u", count: 1000))
    }

    /// RFC 1939 §7: PASS takes the rest of the line, spaces included; other arguments are single-space separated.
    func testPassAndSpaces() {
        XCTAssertEqual(parse("PASS  leading space"), .success(.pass(" leading space")))
        XCTAssertEqual(parse("PASS a b  c "), .success(.pass("a b  c ")))
        XCTAssertEqual(parse("PASS p\u{E4}ss"), .success(.pass("p\u{E4}ss")))
        isSyntax("USER  a")
        isSyntax("APOP a  d")
        isSyntax("TOP 1  2")
        isSyntax("LIST ")
        isSyntax("QUIT ")
        XCTAssertEqual(parse(" QUIT"), .failure(.unknownCommand), "a leading space leaves an empty keyword")
    }

    /// NUL, tabs and every other control byte are refused anywhere in a line.
    func testControlBytes() {
        for byte in Array(UInt8(0)...0x1F) + [0x7F] {
            for line in [[byte] + Array("QUIT".utf8), Array("QUIT".utf8) + [byte], Array("PASS a".utf8) + [byte] + Array("b".utf8)] {
                guard case .failure(.syntax(let command, _)) = POP3CommandParser.parse(line) else {
                    return XCTFail("control byte \(byte) accepted in \(line)")
                }
                XCTAssertFalse(command.contains("a"), "never an argument in the error")
            }
        }
    }

    func testAUTH() {
        XCTAssertEqual(parse("AUTH cram-md5"), .success(.auth(mechanism: "CRAM-MD5", initialResponse: nil)))
        XCTAssertEqual(parse("AUTH LOGIN YWxpY2U="), .success(.auth(mechanism: "LOGIN", initialResponse: "YWxpY2U=")))
        XCTAssertEqual(parse("AUTH PLAIN ="), .success(.auth(mechanism: "PLAIN", initialResponse: "=")))
        isSyntax("AUTH  PLAIN")
        isSyntax("AUTH PLAIN ")
        isSyntax("AUTH PLAIN a b")
    }

    func testEmptyAndUnknown() {
        XCTAssertEqual(parse(""), .failure(.empty))
        XCTAssertEqual(parse("XTND XMIT"), .failure(.unknownCommand))
        XCTAssertEqual(parse("XYZZY  a"), .failure(.unknownCommand), "unknown wins over syntax")
        XCTAssertEqual(parse("LAST"), .failure(.unknownCommand), "RFC 1725's LAST is gone from RFC 1939")
    }

    func testSyntaxErrorsNeverQuoteArguments() {
        for line in ["PASS", "USER a b", "APOP secret", "AUTH PLAIN secret extra", "RETR secret"] {
            guard case .failure(.syntax(let command, let reason)) = parse(line) else { return XCTFail(line) }
            XCTAssertFalse(command.contains("secret") || reason.contains("secret"), line)
        }
    }
}

final class ParseErrorSecrecyTests: XCTestCase {
    /// The `command` of a syntax error is a known keyword or empty, never a word the client typed.
    func testUnknownFirstWordsNeverEchoed() {
        for line in ["hunter2\u{0}", "s3cret\u{7F}", String(repeating: "x", count: 300), "PASS\u{0}pw"] {
            guard case .failure(.syntax(let command, let reason)) = POP3CommandParser.parse(Array(line.utf8)) else { return XCTFail(line) }
            XCTAssertTrue(command.isEmpty || command == "PASS", command)
            XCTAssertFalse(reason.contains("hunter") || reason.contains("s3cret") || reason.contains("pw"))
        }
    }
}
