import XCTest

@testable import SMTPCore

/// RCPT lines naming the same mailbox are one recipient: one copy stored. LMTP still answers once per RCPT, in
/// order (RFC 2033 §4.2), each duplicate with its recipient's reply. The recipient limit counts RCPT lines
/// (RFC 5321 §4.5.3.1.10), duplicates included.
final class RecipientDedupTests: XCTestCase {
    let ok = SMTPReply(250, "2.1.5", "recipient ok")

    func session(_ mode: SMTPMode, maxRecipients: Int = 1000) -> SMTPSessionStateMachine {
        var m = SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(mode: mode, maxRecipients: maxRecipients))
        _ = m.start()
        _ = m.receive(line: bytes(mode == .lmtp ? "LHLO c" : "EHLO c"))
        _ = m.receive(line: bytes("MAIL FROM:<s@y.test>"))
        return m
    }

    /// RCPT, with the check answered `reply` when one is asked for.
    func rcpt(_ m: inout SMTPSessionStateMachine, _ address: String, _ reply: SMTPReply) -> SMTPAction {
        let action = m.receive(line: bytes("RCPT TO:<\(address)>"))
        guard case .checkRecipient = action else { return action }
        return m.recipientChecked(reply)
    }

    func testLMTPOneCopyOneReplyPerRCPT() {
        var m = session(.lmtp)
        XCTAssertEqual(m.receive(line: bytes("RCPT TO:<Bob@X.test>")), .checkRecipient(address: "Bob@X.test", declaredSize: nil),
                       "the first is checked")
        _ = m.recipientChecked(ok)
        XCTAssertEqual(m.receive(line: bytes("RCPT TO:<bob@x.test>")), .send(ok), "a duplicate is not checked again: the first's reply")
        _ = rcpt(&m, "carol@x.test", ok)
        _ = rcpt(&m, "BOB@x.TEST", ok)
        _ = m.receive(line: bytes("DATA"))
        guard case .deliver(let envelope) = m.dataReceived(.complete) else { return XCTFail("no delivery") }
        XCTAssertEqual(envelope.recipients, ["Bob@X.test", "carol@x.test"], "one copy per mailbox, the first spelling")
        XCTAssertEqual(envelope.rcptOrder, [0, 0, 1, 0], "RCPT order kept")
        let bob = SMTPReply(250, "2.0.0", "<Bob@X.test> delivered"), carol = SMTPReply(552, "5.2.2", "mailbox full")
        XCTAssertEqual(m.deliveryCompleted([bob, carol]), .sendAll([bob, bob, carol, bob]),
                       "RFC 2033 §4.2: one reply per RCPT, in order, a duplicate gets the stored copy's reply")
    }

    func testThousandDuplicatesStoreOneCopy() {
        var m = session(.lmtp)
        for _ in 0..<1000 { _ = rcpt(&m, "bob@x.test", ok) }
        XCTAssertEqual(rcpt(&m, "bob@x.test", ok), .send(SMTPReply(452, "4.5.3", "too many recipients")),
                       "RFC 5321 §4.5.3.1.10: duplicates count against maxRecipients")
        _ = m.receive(line: bytes("DATA"))
        guard case .deliver(let envelope) = m.dataReceived(.complete) else { return XCTFail("no delivery") }
        XCTAssertEqual(envelope.recipients.count, 1, "one copy stored")
        XCTAssertEqual(m.deliveryCompleted([SMTPReply(250, "2.0.0", "ok")]), .sendAll(Array(repeating: SMTPReply(250, "2.0.0", "ok"), count: 1000)),
                       "RFC 2033 §4.2: 1,000 replies")
    }

    func testRefusedRecipientIsCheckedAgain() {
        var m = session(.lmtp)
        _ = rcpt(&m, "bob@x.test", SMTPReply(451, "4.3.0", "try again"))
        XCTAssertEqual(m.receive(line: bytes("RCPT TO:<bob@x.test>")), .checkRecipient(address: "bob@x.test", declaredSize: nil),
                       "only an accepted recipient is a duplicate")
    }

    func testRefusalsPerRCPT() {
        var m = session(.lmtp)
        for a in ["a@x.test", "A@X.TEST", "b@x.test"] { _ = rcpt(&m, a, ok) }
        _ = m.receive(line: bytes("DATA"))
        XCTAssertEqual(m.dataReceived(.tooLarge), .sendAll(Array(repeating: SMTPSessionStateMachine.tooLargeReply, count: 3)),
                       "RFC 2033 §4.2: a refusal per RCPT line")
    }

    func testSMTPOneReply() {
        var m = session(.smtp)
        for a in ["a@x.test", "A@x.test", "b@x.test"] { _ = rcpt(&m, a, ok) }
        _ = m.receive(line: bytes("DATA"))
        guard case .deliver(let envelope) = m.dataReceived(.complete) else { return XCTFail("no delivery") }
        XCTAssertEqual(envelope.recipients, ["a@x.test", "b@x.test"], "SMTP: one copy per mailbox")
        XCTAssertEqual(m.deliveryCompleted([SMTPReply(250, "2.0.0", "a"), SMTPReply(250, "2.0.0", "b")]), .send(SMTPReply(250, "2.0.0", "a")),
                       "RFC 5321 §4.1.1.4: one reply")
    }

    // Pickup files and other callers build envelopes directly: duplicates merged there too.
    func testEnvelopeMergesDuplicates() {
        let e = SMTPEnvelope(helo: "pickup", from: "", recipients: ["a@x.test", "b@x.test", "A@X.Test"])
        XCTAssertEqual(e.recipients, ["a@x.test", "b@x.test"], "case-insensitive, as MailboxAddress(parsing:) lowercases")
        XCTAssertEqual(e.rcptCount, 3, "every name counted")
        XCTAssertEqual(e.perRCPT(["A", "B"], missing: "?"), ["A", "B", "A"], "back to the given order")
        XCTAssertEqual(e.perRCPT(["A"], missing: "?"), ["A", "?", "A"], "a missing value, no trap")
    }
}
