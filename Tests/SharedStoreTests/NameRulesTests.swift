import Foundation
import XCTest

@testable import SharedStore

/// Names accepted are exactly those the store can hold and show: the byte limit of a path component, and no
/// control, bidi control, invisible character or sign of invalid UTF-8. Each refusal names its rule.
final class NameRulesTests: XCTestCase {
    /// A 4-byte character (CJK Extension B), so 62 of them fill a mailbox name to its byte limit in 62 characters.
    static let wide = "\u{20000}"
    static let longestMailbox = String(repeating: wide, count: 62)

    /// Mailbox names and the rule each breaks (nil: accepted).
    static let mailboxTable: [(String, NameRule?)] = [
        ("alice", nil), ("Alice", nil), ("a-b_c", nil), ("josé", nil), ("日本語", nil), ("😀", nil),
        (String(repeating: "x", count: 63), nil), (longestMailbox, nil),
        ("", .empty),
        (String(repeating: "x", count: 64), .tooManyCharacters),
        (longestMailbox + "a", .tooManyBytes),
        ("a\u{FFFD}b", .invalidUTF8),
        ("a\u{0}b", .controlCharacter), ("a\tb", .controlCharacter), ("a\u{1B}[31m", .controlCharacter), ("a\u{7F}", .controlCharacter),
        ("a\u{80}", .controlCharacter), ("a\u{85}b", .controlCharacter), ("a\u{9F}", .controlCharacter), ("a\r\nb", .controlCharacter),
        ("a\u{061C}b", .bidiControl), ("a\u{200E}b", .bidiControl), ("a\u{200F}b", .bidiControl), ("a\u{202A}b", .bidiControl),
        ("a\u{202B}b", .bidiControl), ("a\u{202C}b", .bidiControl), ("a\u{202D}b", .bidiControl), ("a\u{202E}b", .bidiControl),
        ("a\u{2066}b", .bidiControl), ("a\u{2067}b", .bidiControl), ("a\u{2068}b", .bidiControl), ("a\u{2069}b", .bidiControl),
        ("a\u{200B}b", .invisibleCharacter), ("a\u{200C}b", .invisibleCharacter), ("a\u{200D}b", .invisibleCharacter),
        ("a\u{2060}b", .invisibleCharacter), ("a\u{2061}b", .invisibleCharacter), ("a\u{2062}b", .invisibleCharacter),
        ("a\u{2063}b", .invisibleCharacter), ("a\u{2064}b", .invisibleCharacter), ("\u{FEFF}a", .invisibleCharacter),
        ("a\u{AD}b", .invisibleCharacter), ("a\u{180E}b", .invisibleCharacter), ("a\u{34F}b", .invisibleCharacter),
        ("a\u{FE0F}", .invisibleCharacter), ("a\u{E0041}", .invisibleCharacter), ("a\u{3164}", .invisibleCharacter),
        ("a b", .whitespace), ("a\u{A0}b", .whitespace), ("a\u{2028}b", .whitespace), ("\u{3000}a", .whitespace),
        ("a@b", .forbiddenCharacter), ("..", .dotAtom), ("../../etc", .forbiddenCharacter), (".bob", .dotAtom), ("bob.", .dotAtom),
        ("bob..smith", .dotAtom), ("a.\u{301}b", .dotAtom), ("a/\u{301}b", .forbiddenCharacter),
    ]

    func rule(_ body: () throws -> String) -> NameRule? {
        do {
            _ = try body()
            return nil
        } catch let e as StoreError {
            XCTAssertEqual(e.code, .invalidName)
            XCTAssertNotNil(e.nameRule, e.message)
            assertLogSafe(e.message)
            return e.nameRule
        } catch {
            XCTFail("\(error)")
            return nil
        }
    }

    /// No character that could hide or reorder text reaches the message.
    func assertLogSafe(_ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let bad = message.unicodeScalars.filter { LogSafeText.needsEscape($0) }
        XCTAssertTrue(bad.isEmpty, "raw \(bad.map(LogSafeText.codePoint)) in \(message.debugDescription)", file: file, line: line)
    }

    func testMailboxFixtureTable() {
        for (name, expected) in Self.mailboxTable {
            XCTAssertEqual(rule { try Names.validateMailbox(name) }, expected, name.debugDescription)
            XCTAssertEqual(rule { try MailboxAddress(mailbox: name, domain: "example.test").mailbox }, expected, name.debugDescription)
        }
    }

    func testTheMessageNamesTheRuleAndEscapesTheCharacter() {
        XCTAssertThrowsError(try Names.validateMailbox("a\u{202E}b")) { e in
            XCTAssertEqual((e as? StoreError)?.message, "invalid mailbox name \"aU+202Eb\": contains a bidirectional control character (U+202E)")
        }
        XCTAssertThrowsError(try Names.validateMailbox("a\u{1B}[2J")) { e in
            XCTAssertEqual((e as? StoreError)?.message, "invalid mailbox name \"aU+001B[2J\": contains a control character (U+001B)")
        }
        XCTAssertThrowsError(try Names.validateMailbox("a\u{200B}")) { e in
            XCTAssertEqual((e as? StoreError)?.message, "invalid mailbox name \"aU+200B\": contains an invisible character (U+200B)")
        }
        XCTAssertThrowsError(try Names.validateMailbox(Self.longestMailbox + "a")) { e in
            XCTAssertTrue((e as? StoreError)?.message.contains("longer than 248 bytes") == true, "\(e)")
        }
        // Whatever else echoes a name escapes it too.
        for (call, text) in [({ try Names.validateDomain("ex\u{202E}ample.com") }, "ex\u{202E}ample.com"),
                             ({ try Names.validateNodeID("n\u{1B}1") }, "n\u{1B}1"),
                             ({ try Names.validateSessionID("s\u{2066}") }, "s\u{2066}"),
                             ({ try MailboxAddress(parsing: "a\u{202E}b").description }, "a\u{202E}b")] as [(() throws -> String, String)] {
            XCTAssertThrowsError(try call(), text.debugDescription) { e in assertLogSafe((e as? StoreError)?.message ?? "\(e)") }
        }
        XCTAssertEqual(rule { try Names.validateDomain("ex\u{202E}ample.com") }, .bidiControl)
        XCTAssertEqual(rule { try Names.validateDomain("a..b") }, .emptyLabel)
    }

    /// The named sets agree with Unicode's properties.
    func testNamedSetsMatchUnicodeProperties() {
        for v in Names.bidiControls { XCTAssertTrue(Unicode.Scalar(v)!.properties.isBidiControl, String(v, radix: 16)) }
        for v in Names.invisibleCharacters { XCTAssertTrue(Names.isInvisible(Unicode.Scalar(v)!), String(v, radix: 16)) }
        XCTAssertEqual(Names.maxMailboxBytes, 248)
        XCTAssertEqual("P3_\(Self.longestMailbox).mbx".utf8.count, Names.maxComponentBytes)
    }

    /// The longest accepted name makes a real mailbox directory; one byte more is refused by the length rule, as
    /// the file system itself would refuse the directory.
    func testLongestMailboxNameFitsTheFileSystem() throws {
        let f = try StoreFixture()
        let a = try f.mailbox(Self.longestMailbox)
        XCTAssertEqual(a.mailbox.utf8.count, Names.maxMailboxBytes)
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: f.path + "/example.test/P3_\(Self.longestMailbox).mbx", isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)
        XCTAssertEqual(try f.store.mailboxes(in: "example.test"), [a])
        let session = try f.store.openSession(a, node: "n1", session: "s1")
        try session.release()
        XCTAssertEqual(rule { try Names.validateMailbox(Self.longestMailbox + "a") }, .tooManyBytes)
        XCTAssertEqual(rule { try Names.validateMailbox(String(repeating: Self.wide, count: 63)) }, .tooManyBytes)
        // The limit is the file system's: a component of 256 bytes cannot be made.
        XCTAssertThrowsError(try FileManager.default.createDirectory(atPath: f.path + "/example.test/P3_\(Self.longestMailbox)a.mbx",
                                                                     withIntermediateDirectories: false))
    }
}
