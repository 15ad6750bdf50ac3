import Foundation
import SharedStore

/// A fresh mail root in a temporary directory, reached through the POSIX volume, or through the NFS volume when
/// POPLAR_TEST_NFS is "<nfs url>|<local path of the export>" (Tests/run-tests runs the suite both ways against a
/// ganesha on loopback). `path` is always the local directory, for checks from outside the volume.
final class StoreFixture {
    let path: String
    let volume: any Volume
    let guid = ClusterGUID.generate()
    let store: MailStore

    init(domain: String? = "example.test") throws {
        let name = "poplar-store-\(UUID().uuidString)"
        if let nfs = ProcessInfo.processInfo.environment["POPLAR_TEST_NFS"], let bar = nfs.firstIndex(of: "|") {
            path = String(nfs[nfs.index(after: bar)...]) + "/" + name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            volume = try NFSVolume(url: String(nfs[..<bar]), directory: name)
        } else {
            path = NSTemporaryDirectory() + name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            volume = try POSIXVolume(rootPath: path)
        }
        store = try MailStore.initialize(volume: volume, guid: guid, kdfRounds: 1000)
        if let domain { try store.addDomain(domain) }
    }

    /// Another volume on the same mail root, as another node opens it (its own connections and handle cache).
    func anotherVolume() throws -> any Volume {
        if let nfs = ProcessInfo.processInfo.environment["POPLAR_TEST_NFS"], let bar = nfs.firstIndex(of: "|") {
            return try NFSVolume(url: String(nfs[..<bar]), directory: (path as NSString).lastPathComponent)
        }
        return try POSIXVolume(rootPath: path)
    }

    func mailbox(_ name: String, password: String = "pw", apop: Bool = false, quota: Int64? = nil) throws -> MailboxAddress {
        let a = try MailboxAddress(mailbox: name, domain: "example.test")
        try store.createMailbox(a, password: password, allowAPOP: apop, quota: quota)
        return a
    }

    func files(_ relative: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + "/" + relative)) ?? []).sorted()
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

import Synchronization

/// Collects values from concurrent workers.
final class Collector<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func add(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
    func removeAll() { items.withLock { $0.removeAll() } }
}
