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
