import Foundation
import Synchronization
import XCTest

@testable import SharedStore

/// A volume on which the mailbox becomes unreadable the moment a lock is published (`kcol`): its listing and any
/// new file in it fail with a permission error, as a mailbox with wrong ownership does (root ignores mode bits,
/// so a chmod cannot show it in a test run as root).
final class DeniedAfterLockVolume: Volume, Sendable {
    let inner: any Volume
    private let denied = Mutex(false)
    init(_ inner: any Volume) { self.inner = inner }

    private func deny(_ what: String) throws {
        if denied.withLock({ $0 }) { throw StoreError(code: .permissionDenied, message: "injected: \(what): Permission denied", errno: EACCES) }
    }

    func stat(_ path: StorePath) throws -> FileAttributes { try inner.stat(path) }
    func list(_ directory: StorePath) throws -> [DirectoryEntry] {
        try deny("list \(directory)")
        return try inner.list(directory)
    }
    func mkdir(_ path: StorePath) throws { try inner.mkdir(path) }
    func rmdir(_ path: StorePath) throws { try inner.rmdir(path) }
    func openForReading(_ path: StorePath) throws -> any VolumeReadHandle { try inner.openForReading(path) }
    func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle {
        try deny("create \(path)")
        return try inner.createFile(path, exclusive: exclusive)
    }
    func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle { try inner.openExisting(path) }
    func rename(_ from: StorePath, to: StorePath) throws {
        try inner.rename(from, to: to)
        if to.name == MailStore.heldName { denied.withLock { $0 = true } }
    }
    func link(_ from: StorePath, to: StorePath) throws { try inner.link(from, to: to) }
    func unlink(_ path: StorePath) throws { try inner.unlink(path) }
    func fsyncDirectory(_ path: StorePath) throws { try inner.fsyncDirectory(path) }
    func allow() { denied.withLock { $0 = false } }
}

/// A session that fails after its lock was taken gives the lock back before the error is returned: the next
/// login finds `lock`, not a lock held for one more lease.
final class ReleaseOnFailureTests: XCTestCase {
    func testLockIsFreeAgainWhenTheMailboxCannotBeListedAfterTheLock() throws {
        let f = try StoreFixture()
        let box = try f.mailbox("alice")
        let volume = DeniedAfterLockVolume(f.volume)
        let store = try MailStore.open(volume: volume, guid: f.guid)
        XCTAssertThrowsError(try store.openSession(box, node: "n1", session: "s1")) { e in
            XCTAssertEqual((e as? StoreError)?.code, .permissionDenied, "\(e)")
        }
        let names = f.files("example.test/P3_alice.mbx").filter { $0 == "lock" || $0.hasPrefix("kcol") }
        XCTAssertEqual(names, ["lock"], "released at once, not left for a lease")
        volume.allow()
        let again = try f.store.openSession(box, node: "n2", session: "s2")
        XCTAssertFalse(again.tookOver)
        try again.release()
    }
}
