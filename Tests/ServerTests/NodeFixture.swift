import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SharedStore
import XCTest

@testable import Node

/// A volume that can be switched to fail every call as an unreachable store would (EIO), to test the failure paths.
// @unchecked Sendable: its switches are locks; the inner volume is Sendable.
final class FaultyVolume: Volume, @unchecked Sendable {
    let inner: any Volume
    let failing = NIOLockedValueBox(false)
    /// Writes fail as on a full disk (ENOSPC); reads work.
    let diskFull = NIOLockedValueBox(false)
    init(_ inner: any Volume) { self.inner = inner }

    private func check() throws {
        if failing.withLockedValue({ $0 }) { throw StoreError(code: .unavailable, message: "injected: store unreachable", errno: EIO) }
    }

    private func checkWrite() throws {
        try check()
        if diskFull.withLockedValue({ $0 }) { throw StoreError(code: .noSpace, message: "injected: no space left on device", errno: ENOSPC) }
    }
    func stat(_ path: StorePath) throws -> FileAttributes { try check(); return try inner.stat(path) }
    func list(_ directory: StorePath) throws -> [DirectoryEntry] { try check(); return try inner.list(directory) }
    func mkdir(_ path: StorePath) throws { try check(); try inner.mkdir(path) }
    func rmdir(_ path: StorePath) throws { try check(); try inner.rmdir(path) }
    func openForReading(_ path: StorePath) throws -> any VolumeReadHandle { try check(); return try inner.openForReading(path) }
    func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle { try checkWrite(); return try inner.createFile(path, exclusive: exclusive) }
    func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle { try checkWrite(); return try inner.openExisting(path) }
    func rename(_ from: StorePath, to: StorePath) throws { try check(); try inner.rename(from, to: to) }
    func link(_ from: StorePath, to: StorePath) throws { try checkWrite(); try inner.link(from, to: to) }
    func unlink(_ path: StorePath) throws { try check(); try inner.unlink(path) }
    func fsyncDirectory(_ path: StorePath) throws { try check(); try inner.fsyncDirectory(path) }
}

/// A mail root in a temporary directory with mailboxes, and a node serving it on 127.0.0.1 port 0.
final class NodeFixture {
    let directory: String
    let volume: FaultyVolume
    let store: MailStore
    let threadPool: NIOThreadPool
    var server: POP3Server!
    static let domain = "example.test"

    init(lease: LockLease = LockLease()) throws {
        directory = NSTemporaryDirectory() + "poplar-node-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        volume = FaultyVolume(try POSIXVolume(rootPath: directory))
        store = try MailStore.initialize(volume: volume, guid: .generate(), kdfRounds: 1000, lockLease: lease)
        try store.addDomain(Self.domain)
        threadPool = NIOThreadPool(numberOfThreads: 4)
        threadPool.start()
    }

    func addMailbox(_ user: String, password: String = "secret", apop: Bool = false, quota: Int64? = nil) throws -> MailboxAddress {
        let address = try MailboxAddress(mailbox: user, domain: Self.domain)
        try store.createMailbox(address, password: password, allowAPOP: apop, quota: quota)
        return address
    }

    @discardableResult
    func deliver(_ text: String, to address: MailboxAddress) throws -> MessageInfo {
        try store.deliver(to: address, message: Array(text.utf8), enforceQuota: false)
    }

    func start(_ configure: (inout NodeConfiguration) -> Void = { _ in }) async throws {
        var configuration = NodeConfiguration(
            listen: [try SocketAddress(ipAddress: "127.0.0.1", port: 0)],
            nodeID: "testnode",
            authFailureDelay: .milliseconds(50),
            drainTime: .milliseconds(200)
        )
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = POP3Server(configuration: configuration, store: store, group: MultiThreadedEventLoopGroup.singleton, threadPool: threadPool, logger: logger)
        try await server.start()
    }

    var port: Int { server.boundAddresses[0].port! }

    func client() throws -> TestClient { try TestClient(port: port) }

    /// A client logged in with USER/PASS; the greeting and both replies are checked.
    func login(_ address: MailboxAddress, password: String = "secret") throws -> TestClient {
        let c = try client()
        let greeting = try c.readLine() ?? ""
        XCTAssertTrue(greeting.hasPrefix("+OK"), greeting)
        XCTAssertTrue(try c.command("USER \(address)").hasPrefix("+OK"))
        let reply = try c.command("PASS \(password)")
        XCTAssertTrue(reply.hasPrefix("+OK"), reply)
        return c
    }

    func waitUntilFree(_ address: MailboxAddress, seconds: Double = 5) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try store.lockState(address) == .free { return true }
            usleep(20_000)
        }
        return false
    }

    func stop() async {
        if let server { await server.shutdown() }
        try? await threadPool.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
