import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import SharedStore
import XCTest

@testable import Node
@testable import ServerSupport

/// The POP3 session on the connection skeleton, driven through NIO's `NIOAsyncTestingChannel`: its event loop is the
/// test clock (timers advance without sleeping) and it accepts the thread pool's completions from other threads.
final class POP3SessionHandlerTests: XCTestCase {
    var fixture: NodeFixture!

    override func setUp() async throws {
        fixture = try NodeFixture()
    }

    override func tearDown() async throws {
        await fixture.stop()
    }

    func makeChannel(_ configure: (inout NodeConfiguration) -> Void = { _ in }) async throws -> (NIOAsyncTestingChannel, POP3Server.Shared) {
        var configuration = NodeConfiguration(nodeID: "testnode", authFailureDelay: .zero)
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let authenticator = Authenticator(store: fixture.store, nodeID: "testnode", cache: LoginCache(ttl: .minutes(1), capacity: 10))
        let shared = POP3Server.Shared(configuration: configuration, authenticator: authenticator, threadPool: fixture.threadPool,
                                       tls: nil, logger: logger, draining: NIOLockedValueBox(false))
        return (try await Self.pop3Channel(shared, port: 1), shared)
    }

    /// A channel whose pipeline is the POP3 session on the skeleton, built on the channel's own loop.
    static func pop3Channel(_ shared: POP3Server.Shared, port: Int) async throws -> NIOAsyncTestingChannel {
        let channel = try await NIOAsyncTestingChannel { channel in
            let session = POP3Session(shared: shared, isTLS: false)
            try channel.pipeline.syncOperations.addHandler(
                LineConnection(session: session, id: session.sessionID, options: POP3Session.connectionOptions(shared.configuration),
                               registry: shared.connections))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port))
        return channel
    }

    func testCapaFloodIsNotAnsweredWhileThePeerDoesNotRead() async throws {
        let (channel, _) = try await makeChannel()
        _ = try await channel.output(until: "+OK")
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        try await channel.send(String(repeating: "CAPA\r\n", count: 2000))
        let none = try await channel.readOutbound(as: ByteBuffer.self)
        XCTAssertNil(none, "nothing is answered while the output is over the water mark")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        let text = try await channel.output(until: "+OK Capability list follows")
        XCTAssertGreaterThan(text.components(separatedBy: "+OK Capability").count - 1, 0)
    }

    /// RFC 1939 §3 leaves the pre-login timer to the server; a NOOP a minute must not keep an unauthenticated
    /// connection (and its slot) forever, nor a CAPA every 35 s.
    func testCommandsBeforeLoginDoNotExtendTheLoginDeadline() async throws {
        let (channel, _) = try await makeChannel { $0.loginTimeout = .seconds(180); $0.authorizationIdleTimeout = .seconds(60) }
        _ = try await channel.output(until: "+OK")
        for _ in 0..<5 {
            await channel.testingEventLoop.advanceTime(by: .seconds(35))
            try await channel.send("CAPA\r\n")
            _ = try await channel.output(until: "\r\n.\r\n")
        }
        let active = channel.isActive
        XCTAssertTrue(active)
        await channel.testingEventLoop.advanceTime(by: .seconds(10))
        let text = try await channel.output(until: "-ERR")
        XCTAssertTrue(text.contains("autologout"), text)
        try await Task.sleep(nanoseconds: 20_000_000)
        let closed = !channel.isActive
        XCTAssertTrue(closed)
    }

    func testIdleAfterLoginLogsOutAndGivesTheLockBack() async throws {
        let address = try fixture.addMailbox("alice")
        let (channel, shared) = try await makeChannel { $0.idleTimeout = .seconds(600) }
        _ = try await channel.output(until: "+OK")
        try await channel.send("USER \(address)\r\n")
        _ = try await channel.output(until: "+OK")
        try await channel.send("PASS secret\r\n")
        _ = try await channel.output(until: "has 0 messages")
        XCTAssertNotEqual(try fixture.store.lockState(address), .free)
        // Past the 3-minute login deadline: logged in, it no longer applies.
        await channel.testingEventLoop.advanceTime(by: .seconds(599))
        let stillActive = channel.isActive
        XCTAssertTrue(stillActive)
        await channel.testingEventLoop.advanceTime(by: .seconds(2))
        _ = try await channel.output(until: "autologout")
        XCTAssertTrue(try fixture.waitUntilFree(address))
        XCTAssertEqual(shared.connections.count, 0)
    }

    func testProxyHeaderFromAnUntrustedPeerIsRefusedBeforeAnyCommand() async throws {
        let (channel, _) = try await makeChannel()
        _ = try await channel.output(until: "+OK")
        try await channel.send("PROXY TCP4 10.0.0.1 10.0.0.2 1000 110\r\nQUIT\r\n")
        let text = try await channel.output(until: "-ERR")
        XCTAssertTrue(text.contains("PROXY header not accepted"), text)
        XCTAssertFalse(text.contains("+OK"), text)
    }

    func testQueuedConnectionIsNotReadUntilAdmitted() async throws {
        let (first, shared) = try await makeChannel { $0.maxConnections = 1; $0.backlog = 1 }
        _ = try await first.output(until: "+OK")
        let second = try await Self.pop3Channel(shared, port: 2)
        try await second.send("CAPA\r\n")
        let none = try await second.readOutbound(as: ByteBuffer.self)
        XCTAssertNil(none, "no greeting and no answer while queued")
        try await first.send("QUIT\r\n")
        _ = try await first.output(until: "+OK")
        try? await first.close()
        let text = try await second.output(until: "Capability list")
        XCTAssertTrue(text.hasPrefix("+OK"), text)
    }
}
