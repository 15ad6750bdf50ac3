import Coordinator
import SMTPCore
import NIOConcurrencyHelpers
import SharedStore
import XCTest

/// The coordinator's recipient checks with an account directory (the seam's own test; slapd and PAM answer through
/// the real backends in their live suites): an external mailbox takes mail only while its account exists, a
/// directory that cannot answer defers (451 4.4.3, socketmap TEMP), and auth.autocreate makes the mailbox of an
/// account that has none.
final class RecipientResolverTests: XCTestCase {
    final class FixedRecipients: RecipientDirectory {
        let answer: RecipientLookup
        let calls = NIOLockedValueBox(0)
        init(_ answer: RecipientLookup) { self.answer = answer }
        func lookup(_ address: MailboxAddress) -> RecipientLookup {
            calls.withLockedValue { $0 += 1 }
            return answer
        }
    }

    var fixture: NodeFixture!
    override func setUp() async throws { fixture = try NodeFixture() }
    override func tearDown() async throws { await fixture.stop() }

    func rcpt(_ directory: FixedRecipients?, autocreate: Bool = false, _ recipient: String) -> SMTPReplyText {
        let delivery = InboundDelivery(store: fixture.store, hostname: "mx.test",
                                       recipients: RecipientResolver(store: fixture.store, directory: directory, autocreate: autocreate))
        let reply = delivery.check(recipient: recipient, declaredSize: nil)
        return SMTPReplyText(code: reply.code, enhanced: reply.enhanced)
    }

    struct SMTPReplyText: Equatable {
        var code: Int
        var enhanced: String?
    }

    func testPasswordFileMailboxesNeedNoDirectory() throws {
        _ = try fixture.addMailbox("alice")
        let directory = FixedRecipients(.unknown)
        XCTAssertEqual(rcpt(directory, "alice@example.test"), SMTPReplyText(code: 250, enhanced: "2.1.5"))
        XCTAssertEqual(directory.calls.withLockedValue { $0 }, 0)
    }

    func testExternalMailboxesFollowTheDirectory() throws {
        let address = try MailboxAddress(mailbox: "ext", domain: NodeFixture.domain)
        try fixture.store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
        XCTAssertEqual(rcpt(FixedRecipients(.exists), "ext@example.test").code, 250)
        XCTAssertEqual(rcpt(FixedRecipients(.unknown), "ext@example.test"), SMTPReplyText(code: 550, enhanced: "5.1.1"))
        XCTAssertEqual(rcpt(FixedRecipients(.unavailable("down")), "ext@example.test"), SMTPReplyText(code: 451, enhanced: "4.4.3"))
        XCTAssertEqual(rcpt(nil, "ext@example.test").code, 250, "no directory configured: the store alone")
    }

    func testAutocreate() throws {
        XCTAssertEqual(rcpt(FixedRecipients(.exists), "new@example.test").code, 550, "without autocreate")
        XCTAssertEqual(rcpt(FixedRecipients(.unknown), autocreate: true, "nobody@example.test").code, 550)
        XCTAssertEqual(rcpt(FixedRecipients(.unavailable("down")), autocreate: true, "later@example.test").code, 451)
        XCTAssertFalse(try fixture.store.mailboxExists(try MailboxAddress(parsing: "later@example.test")))
        XCTAssertEqual(rcpt(FixedRecipients(.exists), autocreate: true, "new@example.test").code, 250)
        XCTAssertTrue(try fixture.store.isExternalMailbox(try MailboxAddress(parsing: "new@example.test")))
        XCTAssertEqual(rcpt(FixedRecipients(.exists), "elsewhere@other.test"), SMTPReplyText(code: 550, enhanced: "5.7.1"),
                       "never an open relay, whatever the directory says")
    }
}
