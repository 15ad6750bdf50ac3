import XCTest

@testable import SharedStore

final class NamesAndPathsTests: XCTestCase {
    func testStorePathRejectsEscapes() {
        for bad in ["", ".", "..", "a/b", "/", "a\u{0}b"] {
            XCTAssertThrowsError(try StorePath([bad]), bad)
            XCTAssertThrowsError(try StorePath.root.appending(bad), bad)
        }
        XCTAssertEqual(try StorePath(["a", "b"]).description, "a/b")
        XCTAssertEqual(try StorePath(["a", "b"]).parent, try StorePath(["a"]))
    }

    // The seed: domains a-z 0-9 - and dots, fewer than 255 characters; case-insensitive.
    func testDomainRules() throws {
        XCTAssertEqual(try Names.validateDomain("Example.COM"), "example.com")
        XCTAssertEqual(try Names.validateDomain("a-b.c0"), "a-b.c0")
        let label = String(repeating: "a", count: 63)
        let d254 = [label, label, label, String(repeating: "b", count: 62)].joined(separator: ".")
        XCTAssertEqual(d254.count, 254)
        XCTAssertNoThrow(try Names.validateDomain(d254))
        XCTAssertThrowsError(try Names.validateDomain(d254 + "c"), "255 characters")
        for bad in ["", ".", "a..b", ".a", "a.", "-a.b", "a-.b", "a_b.c", "a b.c", "ä.com", "../etc", "a/b", "a@b"] {
            XCTAssertThrowsError(try Names.validateDomain(bad), bad)
        }
    }

    // The seed: mailboxes fewer than 64 characters, none of @ ( ) / \ [ ] : ; , " * = | ? +; a dot only inside
    // (RFC 5322 dot-atom: Bob.Smith).
    func testMailboxRules() throws {
        XCTAssertEqual(try Names.validateMailbox("Alice"), "alice")
        XCTAssertNoThrow(try Names.validateMailbox(String(repeating: "x", count: 63)))
        XCTAssertThrowsError(try Names.validateMailbox(String(repeating: "x", count: 64)))
        XCTAssertEqual(try Names.validateMailbox("Bob.Smith"), "bob.smith")
        XCTAssertEqual(try MailboxAddress(parsing: "Bob.Smith@example.test").description, "bob.smith@example.test")
        for c in "@()/\\[]:;,\"*=|?+" {
            XCTAssertThrowsError(try Names.validateMailbox("a\(c)b"), "\(c)")
        }
        for bad in ["", "a b", "a\u{0}", "a\tb", "..", "../../etc"] {
            XCTAssertThrowsError(try Names.validateMailbox(bad), bad)
        }
        XCTAssertEqual(try MailboxAddress(parsing: "Bob@Example.Test").description, "bob@example.test")
        for bad in ["bob", "a@b@c", "@x.y", "a@", "../../etc", "a@../etc"] {
            XCTAssertThrowsError(try MailboxAddress(parsing: bad), bad)
        }
    }

    func testMessageNamer() {
        let clock = ManualClock(1_700_000_000_123)
        let namer = MessageNamer(slot: 42, clock: { clock.now })
        let a = namer.next(), b = namer.next()
        XCTAssertEqual(a, "20231114221320123" + "00042" + "0000")
        XCTAssertEqual(b, "20231114221320123" + "00042" + "0001")
        clock.now -= 5000  // the clock steps back: names still grow
        XCTAssertGreaterThan(namer.next(), b)
        XCTAssertTrue(MessageNamer.isMessageName("P3_\(a).eml"))
        XCTAssertFalse(MessageNamer.isMessageName("P3_123.eml"))
        XCTAssertFalse(MessageNamer.isMessageName("P3_\(a).eml.tmp"))
    }

    func testNamerOverflowMovesToNextMillisecond() {
        let namer = MessageNamer(slot: 1, clock: { 1_700_000_000_000 })
        var last = ""
        for _ in 0..<10_001 {
            let n = namer.next()
            XCTAssertGreaterThan(n, last)
            last = n
        }
        XCTAssertTrue(last.hasPrefix("20231114221320001"), last)
    }
}

// @unchecked Sendable: test clock; advanced and read from the test thread only.
final class ManualClock: @unchecked Sendable {
    var now: Int64
    init(_ now: Int64) { self.now = now }
}
