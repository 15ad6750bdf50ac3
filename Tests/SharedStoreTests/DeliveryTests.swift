import Foundation
import XCTest

@testable import SharedStore

final class DeliveryTests: XCTestCase {
    func stored(_ f: StoreFixture, _ a: MailboxAddress, _ info: MessageInfo) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: "\(f.path)/\(a.domain)/P3_\(a.mailbox).mbx/\(info.fileName)")))
    }

    func testLineEndsAndEightBit() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let cases: [([UInt8], [UInt8])] = [
            (Array("a\nb\n".utf8), Array("a\r\nb\r\n".utf8)),
            (Array("a\r\nb\r\n".utf8), Array("a\r\nb\r\n".utf8)),
            (Array("lone\rcr\n".utf8), Array("lone\rcr\r\n".utf8)),
            ([0xFF, 0x00, 0x80, 0x0A], [0xFF, 0x00, 0x80, 0x0D, 0x0A]),
            (Array("no final newline".utf8), Array("no final newline".utf8)),
            (Array(".\n..\n".utf8), Array(".\r\n..\r\n".utf8)),
        ]
        for (input, expected) in cases {
            let info = try f.store.deliver(to: a, message: input, enforceQuota: true)
            XCTAssertEqual(try stored(f, a, info), expected)
            XCTAssertEqual(info.size, Int64(expected.count), "the file size is the octet count")
            XCTAssertEqual(info.uidl.count, 26)
            XCTAssertEqual(info.fileName, "P3_\(info.uidl).eml")
        }
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
    }

    func testLFToCRLFAcrossOneByteChunks() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let input = Array("x\r\ny\nz\r\r\n\n".utf8)
        let w = try f.store.beginDelivery(to: a)
        for b in input { try w.write([b]) }
        let info = try w.finish(enforceQuota: false)
        XCTAssertEqual(try stored(f, a, info), Array("x\r\ny\r\nz\r\r\n\r\n".utf8))
    }

    func testQuotaRefusalLeavesNothing() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice", quota: 100)
        _ = try f.store.deliver(to: a, message: Array(repeating: 65, count: 60), enforceQuota: true)
        XCTAssertThrowsError(try f.store.deliver(to: a, message: Array(repeating: 65, count: 60), enforceQuota: true)) {
            XCTAssertEqual(($0 as? StoreError)?.code, .quotaExceeded)
        }
        XCTAssertEqual(try f.store.mailboxInfo(a).messageCount, 1)
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
        _ = try f.store.deliver(to: a, message: Array(repeating: 65, count: 60), enforceQuota: false)
        XCTAssertEqual(try f.store.mailboxInfo(a).messageCount, 2)
    }

    func testAbortLeavesNothing() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let w = try f.store.beginDelivery(to: a)
        try w.write(Array("half a message".utf8))
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp").count, 1)
        w.abort()
        w.abort()
        XCTAssertEqual(f.files("example.test/P3_alice.mbx/tmp"), [])
        XCTAssertEqual(try f.store.mailboxInfo(a).messageCount, 0)
        XCTAssertThrowsError(try f.store.beginDelivery(to: try MailboxAddress(parsing: "nobody@example.test")))
    }

    func testConcurrentDeliveriesAreDistinctAndOrdered() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        let names = Collector<String>()
        let store = f.store
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in 0..<250 {
                let info = try! store.deliver(to: a, message: Array("t\(t) m\(i)\n".utf8), enforceQuota: false)
                names.add(info.uidl)
            }
        }
        XCTAssertEqual(Set(names.all).count, 1000)
        let session = try f.store.openSession(a, node: "n", session: "s")
        defer { try? session.release() }
        XCTAssertEqual(session.messages.count, 1000)
        XCTAssertEqual(session.messages.map(\.uidl), session.messages.map(\.uidl).sorted())
    }

    // Each delivering process claims its own slot in .poplar/slots, so names are unique in the whole root.
    func testDeliverySlotsAreClaimedAndReleased() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        var s1: MailStore? = try MailStore.open(volume: f.volume, guid: f.guid)
        var s2: MailStore? = try MailStore.open(volume: f.volume, guid: f.guid)
        XCTAssertEqual(f.files(".poplar/slots"), [], "claimed on first delivery only")
        let m1 = try s1!.deliver(to: a, message: Array("one\n".utf8), enforceQuota: false)
        let m2 = try s2!.deliver(to: a, message: Array("two\n".utf8), enforceQuota: false)
        let slots = f.files(".poplar/slots")
        XCTAssertEqual(slots.count, 2)
        XCTAssertEqual(Set(slots), [String(m1.uidl.dropFirst(17).prefix(5)), String(m2.uidl.dropFirst(17).prefix(5))])
        s1 = nil
        s2 = nil
        XCTAssertEqual(f.files(".poplar/slots"), [], "given back when the store is closed")
    }

    func testTwoDeliverersWithTheSameSlotNeverOverwrite() throws {
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        // Two processes that drew the same slot at the same millisecond would make the same name: link() refuses.
        let s1 = try MailStore.open(volume: f.volume, guid: f.guid, namer: MessageNamer(slot: 7, clock: { 1_700_000_000_000 }))
        let s2 = try MailStore.open(volume: f.volume, guid: f.guid, namer: MessageNamer(slot: 7, clock: { 1_700_000_000_000 }))
        let m1 = try s1.deliver(to: a, message: Array("one\n".utf8), enforceQuota: false)
        let m2 = try s2.deliver(to: a, message: Array("two\n".utf8), enforceQuota: false)
        XCTAssertNotEqual(m1.uidl, m2.uidl)
        XCTAssertEqual(try stored(f, a, m1), Array("one\r\n".utf8))
        XCTAssertEqual(try stored(f, a, m2), Array("two\r\n".utf8))
    }
}
