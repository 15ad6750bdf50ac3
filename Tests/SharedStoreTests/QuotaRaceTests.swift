import Foundation
import Synchronization
import XCTest

@testable import SharedStore

/// Issue 16 item 5: deliveries finishing at the same moment never push a mailbox past its quota (the bound is
/// stronger than "one message over": none). One that fits alone but not beside the others is told to try again.
final class QuotaRaceTests: XCTestCase {
    func testParallelDeliveriesNeverPassTheQuota() throws {
        let f = try StoreFixture()
        let quota: Int64 = 9_500  // nine messages fit, the tenth would pass it
        let a = try f.mailbox("alice", quota: quota)
        let message = Array(("Subject: q\r\n\r\n" + String(repeating: "x", count: 984) + "\r\n").utf8)  // 1,000 bytes
        XCTAssertEqual(message.count, 1000)
        // Every link waits 20 ms: the deliveries' checks and links interleave as on a slow NAS.
        let store = try MailStore.open(volume: SlowLinkVolume(f.volume), guid: f.guid)
        let outcomes = Mutex<(kept: Int, full: Int, retried: Int, other: [String])>((0, 0, 0, []))
        let done = DispatchGroup()
        let senders = (0..<24).map { _ in Thread {
            defer { done.leave() }
            for _ in 0..<200 {  // retry a contended delivery, as an MTA would, until it is kept or the mailbox is full
                do {
                    _ = try store.deliver(to: a, message: message, enforceQuota: true)
                    outcomes.withLock { $0.kept += 1 }
                    return
                } catch let e as StoreError where e.code == .quotaContended {
                    outcomes.withLock { $0.retried += 1 }
                    usleep(UInt32.random(in: 100...3_000))
                } catch let e as StoreError where e.code == .quotaExceeded {
                    outcomes.withLock { $0.full += 1 }
                    return
                } catch {
                    outcomes.withLock { $0.other.append("\(error)") }
                    return
                }
            }
        } }
        for sender in senders {  // 24 threads at once, whatever the number of cores
            done.enter()
            sender.start()
        }
        done.wait()
        let result = outcomes.withLock { $0 }
        XCTAssertEqual(result.other, [])
        let session = try f.store.openSession(a, node: "n1", session: "count")
        defer { try? session.release() }
        let used = session.messages.reduce(Int64(0)) { $0 + $1.size }
        XCTAssertLessThanOrEqual(used, quota, "kept \(result.kept), retried \(result.retried)")
        XCTAssertEqual(session.messages.count, result.kept)
        XCTAssertEqual(result.kept, 9, "every message that fits is kept in the end (\(result))")
        XCTAssertEqual(result.kept + result.full, 24)
        let leftovers = try f.store.volume.list(try f.store.mailboxDir(a).appending("tmp")).map(\.name)
        XCTAssertEqual(leftovers, [], "no readiness mark or partial file left behind")
    }
}

/// A volume whose `link` (a delivery's last step) takes 20 ms.
final class SlowLinkVolume: Volume, Sendable {
    let inner: any Volume
    init(_ inner: any Volume) { self.inner = inner }
    func stat(_ path: StorePath) throws -> FileAttributes { try inner.stat(path) }
    func list(_ directory: StorePath) throws -> [DirectoryEntry] { try inner.list(directory) }
    func mkdir(_ path: StorePath) throws { try inner.mkdir(path) }
    func rmdir(_ path: StorePath) throws { try inner.rmdir(path) }
    func openForReading(_ path: StorePath) throws -> any VolumeReadHandle { try inner.openForReading(path) }
    func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle { try inner.createFile(path, exclusive: exclusive) }
    func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle { try inner.openExisting(path) }
    func rename(_ from: StorePath, to: StorePath) throws { try inner.rename(from, to: to) }
    func link(_ from: StorePath, to: StorePath) throws {
        usleep(20_000)
        try inner.link(from, to: to)
    }
    func unlink(_ path: StorePath) throws { try inner.unlink(path) }
    func fsyncDirectory(_ path: StorePath) throws { try inner.fsyncDirectory(path) }
}
