import Coordinator
import Foundation
import Logging
import NIOConcurrencyHelpers
import SharedStore
import XCTest

/// A volume whose files under one path prefix cannot be created for now (a temporary store failure), for one
/// recipient's mailbox only.
final class PrefixFaultVolume: Volume, @unchecked Sendable {
    let inner: any Volume
    let failingPrefix = NIOLockedValueBox<String?>(nil)
    init(_ inner: any Volume) { self.inner = inner }

    private func check(_ path: StorePath) throws {
        if let prefix = failingPrefix.withLockedValue({ $0 }), path.description.hasPrefix(prefix) {
            throw StoreError(code: .unavailable, message: "injected: unreachable for now", errno: EIO)
        }
    }
    func stat(_ path: StorePath) throws -> FileAttributes { try inner.stat(path) }
    func list(_ directory: StorePath) throws -> [DirectoryEntry] { try inner.list(directory) }
    func mkdir(_ path: StorePath) throws { try inner.mkdir(path) }
    func rmdir(_ path: StorePath) throws { try inner.rmdir(path) }
    func openForReading(_ path: StorePath) throws -> any VolumeReadHandle { try inner.openForReading(path) }
    func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle {
        try check(path)
        return try inner.createFile(path, exclusive: exclusive)
    }
    func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle { try inner.openExisting(path) }
    func rename(_ from: StorePath, to: StorePath) throws { try inner.rename(from, to: to) }
    func link(_ from: StorePath, to: StorePath) throws { try inner.link(from, to: to) }
    func unlink(_ path: StorePath) throws { try inner.unlink(path) }
    func fsyncDirectory(_ path: StorePath) throws { try inner.fsyncDirectory(path) }
}

/// Issue 16 item 5: a pickup file whose delivery failed for now for some recipients only is retried for those
/// alone: the others never get a second copy, and nothing goes to Badmail for a temporary failure.
final class PickupRetryTests: XCTestCase {
    func testOnlyTheRecipientsThatFailedForNowAreRetried() throws {
        let directory = NSTemporaryDirectory() + "poplar-pickup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let volume = PrefixFaultVolume(try POSIXVolume(rootPath: directory))
        let store = try MailStore.initialize(volume: volume, guid: .generate(), kdfRounds: 1000)
        try store.addDomain("example.test")
        let alice = try MailboxAddress(mailbox: "alice", domain: "example.test")
        let bob = try MailboxAddress(mailbox: "bob", domain: "example.test")
        for a in [alice, bob] { try store.createMailbox(a, password: "pw", allowAPOP: false, quota: nil) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let pickup = PickupFolder(delivery: InboundDelivery(store: store, hostname: "mx.test"), maxMessageSize: 100_000, logger: logger)
        try pickup.ensureFolders()
        let folder = directory + "/.poplar/pickup/"
        let body = "Subject: both\r\n\r\nhello\r\n"
        try Data(("x-sender: <s@e.test>\r\nx-receiver: <alice@example.test>\r\nx-receiver: <bob@example.test>\r\n" + body).utf8)
            .write(to: URL(fileURLWithPath: folder + "m1"))

        volume.failingPrefix.withLockedValue { $0 = "example.test/P3_bob.mbx" }
        let first = try pickup.scan()
        XCTAssertEqual(first.bad, 0, "a temporary failure is not bad mail")
        volume.failingPrefix.withLockedValue { $0 = nil }
        func count(_ a: MailboxAddress) throws -> Int {
            let session = try store.openSession(a, node: "t", session: UUID().uuidString)
            defer { try? session.release() }
            return session.messages.count
        }
        XCTAssertEqual(try count(alice), 1)
        XCTAssertEqual(try count(bob), 0)
        let queued = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(queued.count, 1, "\(queued)")
        let retry = try String(contentsOfFile: folder + queued[0], encoding: .utf8)
        XCTAssertEqual(retry, "x-sender: <s@e.test>\r\nx-receiver: <bob@example.test>\r\n" + body, "bob alone, the same message")

        let second = try pickup.scan()
        XCTAssertEqual(second.delivered, 1)
        XCTAssertEqual(try count(alice), 1, "no second copy for alice")
        XCTAssertEqual(try count(bob), 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }, [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/.poplar/badmail"), [])
    }
}
