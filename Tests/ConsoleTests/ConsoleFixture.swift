import Admin
import Foundation
import SharedStore

/// A fresh mail root in a temporary directory with one administrator (`root`, `ADMIN_PASSWORD`).
final class ConsoleFixture: Sendable {
    static let adminPassword = "correct horse battery staple"
    let path: String
    let guid = ClusterGUID.generate()
    let store: MailStore
    let admin: AdminOperations

    init() throws {
        path = NSTemporaryDirectory() + "poplar-console-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        store = try MailStore.initialize(volume: try POSIXVolume(rootPath: path), guid: guid, kdfRounds: 1000)
        admin = AdminOperations(store: store)
        try admin.addAdmin("root", password: Self.adminPassword, by: .commandLine(host: "test"))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

import Synchronization

/// A volume that counts the calls made through it: what an operation costs the store, whatever the machine's speed.
final class CallCountingVolume: Volume, Sendable {
    let inner: any Volume
    private let counts = Mutex<[String: Int]>([:])
    init(_ inner: any Volume) { self.inner = inner }

    var calls: [String: Int] { counts.withLock { $0 } }
    var total: Int { counts.withLock { $0.values.reduce(0, +) } }
    func reset() { counts.withLock { $0 = [:] } }
    private func count(_ call: String) { counts.withLock { $0[call, default: 0] += 1 } }

    func stat(_ path: StorePath) throws -> FileAttributes { count("stat"); return try inner.stat(path) }
    func list(_ directory: StorePath) throws -> [DirectoryEntry] { count("list"); return try inner.list(directory) }
    func mkdir(_ path: StorePath) throws { count("mkdir"); try inner.mkdir(path) }
    func rmdir(_ path: StorePath) throws { count("rmdir"); try inner.rmdir(path) }
    func openForReading(_ path: StorePath) throws -> any VolumeReadHandle { count("open"); return try inner.openForReading(path) }
    func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle { count("create"); return try inner.createFile(path, exclusive: exclusive) }
    func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle { count("open"); return try inner.openExisting(path) }
    func rename(_ from: StorePath, to: StorePath) throws { count("rename"); try inner.rename(from, to: to) }
    func link(_ from: StorePath, to: StorePath) throws { count("link"); try inner.link(from, to: to) }
    func unlink(_ path: StorePath) throws { count("unlink"); try inner.unlink(path) }
    func fsyncDirectory(_ path: StorePath) throws { count("fsync-directory"); try inner.fsyncDirectory(path) }
}
