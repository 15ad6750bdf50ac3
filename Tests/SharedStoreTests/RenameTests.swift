import Foundation
import XCTest

@testable import SharedStore

/// `renameMailbox`: messages, password, APOP secret and SCRAM keys move with the name; a held or taken name refuses.
final class RenameTests: XCTestCase {
    func testRenameKeepsEverything() throws {
        let f = try StoreFixture()
        let old = try f.mailbox("ren1", password: "pw", apop: true)
        _ = try f.store.deliver(to: old, message: Array("Subject: x\r\n\r\nbody\r\n".utf8), enforceQuota: false)
        let new = try MailboxAddress(mailbox: "ren2", domain: "example.test")
        try f.store.renameMailbox(old, to: new)
        XCTAssertFalse(try f.store.mailboxExists(old))
        XCTAssertEqual(try f.store.mailboxInfo(new).messageCount, 1)
        XCTAssertEqual(try f.store.lockState(new), .free)
        let record = try f.store.passwordRecord(new)
        XCTAssertTrue(PasswordHasher.verify(password: Array("pw".utf8), record: record, guid: f.guid))
        XCTAssertEqual(try PasswordHasher.openSecret(record: record, address: new, guid: f.guid), Array("pw".utf8))
        XCTAssertNotNil(try f.store.scramSecret(new), "the SCRAM keys are bound to the new name")
    }

    // A delivery writing into the old mailbox when the rename starts: its message is waited for and moved.
    func testADeliveryInFlightIsMovedNotLost() throws {
        let f = try StoreFixture()
        let old = try f.mailbox("busy")
        let staging = try StorePath(["example.test", "P3_busy.mbx", "tmp", "delivery.1"])
        try f.volume.writeFile(staging, Array("Subject: late\r\n\r\nx\r\n".utf8), exclusive: true)
        let volume = f.volume
        let writer = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            try? volume.link(staging, to: try! StorePath(["example.test", "P3_busy.mbx", "P3_00000000000000000000000001.eml"]))
            try? volume.unlink(staging)
        }
        writer.start()
        let new = try MailboxAddress(mailbox: "moved", domain: "example.test")
        try f.store.renameMailbox(old, to: new)
        XCTAssertEqual(try f.store.mailboxInfo(new).messageCount, 1, "the late message went with the mailbox")
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path + "/example.test/P3_busy.mbx"))
    }

    func testDomainRename() throws {
        let f = try StoreFixture()
        try f.store.addDomain("old.test")
        try f.store.setDomainPolicy("old.test", DomainPolicy(loginDelay: 60))
        let a = try MailboxAddress(mailbox: "a", domain: "old.test"), b = try MailboxAddress(mailbox: "b", domain: "old.test")
        try f.store.createMailbox(a, password: "pw", allowAPOP: true, quota: nil)
        try f.store.createMailbox(b, password: nil, allowAPOP: false, quota: nil)
        let held = try f.store.openSession(a, node: "n1", session: "s1")
        XCTAssertThrowsError(try f.store.renameDomain("old.test", to: "new.test"), "a session holds a mailbox")
        XCTAssertEqual(try f.store.lockState(b), .free, "nothing stays held after the refusal")
        try held.release()
        XCTAssertEqual(try f.store.renameDomain("old.test", to: "new.test"), 2)
        XCTAssertEqual(try f.store.domains(), ["example.test", "new.test"])
        XCTAssertEqual(try f.store.domainPolicy("new.test"), DomainPolicy(loginDelay: 60))
        let moved = try MailboxAddress(mailbox: "a", domain: "new.test")
        XCTAssertEqual(try PasswordHasher.openSecret(record: try f.store.passwordRecord(moved), address: moved, guid: f.guid), Array("pw".utf8))
        XCTAssertTrue(try f.store.isExternalMailbox(try MailboxAddress(mailbox: "b", domain: "new.test")))
        XCTAssertEqual(try f.store.lockState(moved), .free)
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.path + "/old.test"))
    }

    func testRefusals() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("a"), b = try f.mailbox("b")
        XCTAssertThrowsError(try f.store.renameMailbox(a, to: b)) { XCTAssertEqual(($0 as? StoreError)?.code, .alreadyExists) }
        XCTAssertEqual(try f.store.lockState(a), .free, "a refused rename gives the lock back")
        let session = try f.store.openSession(a, node: "n1", session: "s1")
        XCTAssertThrowsError(try f.store.renameMailbox(a, to: try MailboxAddress(mailbox: "c", domain: "example.test")))
        try session.release()
        XCTAssertThrowsError(try f.store.renameMailbox(try MailboxAddress(mailbox: "ghost", domain: "example.test"), to: a))
        XCTAssertThrowsError(try f.store.renameMailbox(a, to: try MailboxAddress(mailbox: "a", domain: "elsewhere.test")))
        // An administrator's lock stays after the rename.
        try f.store.adminLock(a, by: "op")
        let moved = try MailboxAddress(mailbox: "d", domain: "example.test")
        try f.store.renameMailbox(a, to: moved)
        guard case .admin = try f.store.lockState(moved) else { return XCTFail("the administrator's lock was dropped") }
    }
}
