import Logging
import NIOCore
import NIOEmbedded
import SharedStore
import XCTest

@testable import Coordinator
@testable import ServerSupport

/// LMTP, SMTP and the socketmap on the connection skeleton, driven through `NIOAsyncTestingChannel` (its event
/// loop is the test clock; the thread pool answers from other threads).
final class InboundSessionHandlerTests: XCTestCase {
    var fixture: NodeFixture!

    override func setUp() async throws {
        fixture = try NodeFixture()
    }

    override func tearDown() async throws {
        await fixture.stop()
    }

    func makeShared(_ configure: (inout CoordinatorConfiguration) -> Void = { _ in }) throws -> InboundServer.Shared {
        var configuration = CoordinatorConfiguration(hostname: "mx.test", idleTimeout: .seconds(300))
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let shared = InboundServer.Shared(configuration: configuration, delivery: InboundDelivery(store: fixture.store, hostname: "mx.test"),
                                          threadPool: fixture.threadPool, tls: nil, logger: logger)
        let held = try fixture.store.takeLease(MailStore.coordinatorLease, holder: "test")
        shared.lease.withLockedValue { $0 = held }
        return shared
    }

    /// A channel whose pipeline is a session (made on the channel's own loop) on the skeleton.
    func channel(options: LineConnection.Options, registry: ConnectionRegistry? = nil,
                 _ session: @escaping @Sendable () -> any LineSession) async throws -> NIOAsyncTestingChannel {
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(LineConnection(session: session(), id: "t", options: options, registry: registry))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        return channel
    }

    func smtpChannel(_ mode: SMTPModeForTest, shared: InboundServer.Shared) async throws -> NIOAsyncTestingChannel {
        try await channel(options: InboundSession.connectionOptions(shared.configuration), registry: shared.connections) {
            InboundSession(shared: shared, mode: mode == .lmtp ? .lmtp : .smtp)
        }
    }

    enum SMTPModeForTest: Sendable { case lmtp, smtp }

    func testNoopFloodIsNotAnsweredWhileThePeerDoesNotRead() async throws {
        let shared = try makeShared()
        for mode in [SMTPModeForTest.lmtp, .smtp] {
            let c = try await smtpChannel(mode, shared: shared)
            _ = try await c.output(until: "220 ")
            c.isWritable = false
            c.pipeline.fireChannelWritabilityChanged()
            try await c.send(String(repeating: "NOOP\r\n", count: 5000))
            let none = try await c.readOutbound(as: ByteBuffer.self)
            XCTAssertNil(none, "\(mode): nothing answered while the output is over the water mark")
            c.isWritable = true
            c.pipeline.fireChannelWritabilityChanged()
            _ = try await c.output(until: "250 2.0.0 ok")
            try? await c.close()
        }
    }

    /// RFC 5321 §2.3.8 and SMTP smuggling: a bare LF before the dot does not end DATA; the message is refused.
    func testBareLineFeedInDataIsRefusedAndTheTextAfterItIsNotACommand() async throws {
        let bob = try fixture.addMailbox("bob")
        let c = try await smtpChannel(.lmtp, shared: try makeShared())
        _ = try await c.output(until: "220 ")
        try await c.send("LHLO x\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<\(bob)>\r\nDATA\r\n")
        _ = try await c.output(until: "354 ")
        try await c.send("Subject: one\r\n\r\nbody\n.\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<\(bob)>\r\nDATA\r\nevil\r\n.\r\n")
        let text = try await c.output(until: "550 5.5.2")
        XCTAssertFalse(text.contains("354"), text)
        XCTAssertEqual(try fixture.store.mailboxInfo(bob).messageCount, 0, "nothing stored")
        try await c.send("NOOP\r\n")
        _ = try await c.output(until: "250 2.0.0 ok")
    }

    /// The option that normalises instead (off by default): each bare LF becomes CRLF and the message is kept; a bare
    /// LF before the dot still does not end DATA.
    func testNormalisingOptionStoresCRLF() async throws {
        let bob = try fixture.addMailbox("bob")
        let c = try await smtpChannel(.lmtp, shared: try makeShared { $0.normalizeBareLineEndings = true })
        _ = try await c.output(until: "220 ")
        try await c.send("LHLO x\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<\(bob)>\r\nDATA\r\n")
        _ = try await c.output(until: "354 ")
        try await c.send("Subject: one\n\nbody\n.\nstill body\r\n.\r\n")
        _ = try await c.output(until: "250 2.0.0")
        let session = try fixture.store.openSession(bob, node: "t", session: "t")
        defer { try? session.release() }
        let handle = try session.openMessage(try XCTUnwrap(session.messages.first))
        defer { handle.close() }
        let text = String(decoding: try handle.read(at: 0, count: 4096), as: UTF8.self)
        XCTAssertTrue(text.hasSuffix("Subject: one\r\n\r\nbody\r\n.\r\nstill body\r\n"), text)
    }

    func testIdleTimeoutOnTheTestClock() async throws {
        let c = try await smtpChannel(.smtp, shared: try makeShared())
        _ = try await c.output(until: "220 ")
        await c.testingEventLoop.advanceTime(by: .seconds(299))
        try await c.send("NOOP\r\n")
        _ = try await c.output(until: "250")
        await c.testingEventLoop.advanceTime(by: .seconds(301))
        _ = try await c.output(until: "421 4.4.2")
    }

    func testSocketmapAnswersInOrderAndClosesOnAHugeLength() async throws {
        _ = try fixture.addMailbox("bob")
        let shared = try makeShared()
        let c = try await channel(options: SocketmapSession.connectionOptions(shared.configuration)) { SocketmapSession(shared: shared) }
        func ns(_ s: String) -> String { "\(s.utf8.count):\(s)," }
        try await c.send(ns("mailboxes bob@example.test") + ns("domains example.test") + ns("domains none.test"))
        let text = try await c.output(until: "NOTFOUND")
        XCTAssertEqual(text, ns("OK bob@example.test") + ns("OK example.test") + ns("NOTFOUND "))
        try await c.send("99999999999999999999999:")
        try await Task.sleep(nanoseconds: 50_000_000)
        let open = c.isActive
        XCTAssertFalse(open, "a length of more digits than the bound needs closes the connection")
    }
}
