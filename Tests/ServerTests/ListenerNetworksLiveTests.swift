import Coordinator
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServerSupport
import SharedStore
import XCTest

@testable import Node

/// Listeners only the MTA and the operators need (LMTP, socketmap, health and metrics) serve only their networks:
/// anyone else is closed before the greeting. Inbound SMTP and POP3 serve everyone.
final class ListenerNetworksLiveTests: XCTestCase {
    var fixture: NodeFixture!
    var coordinator: InboundServer?

    override func setUp() async throws {
        fixture = try NodeFixture()
    }

    override func tearDown() async throws {
        await coordinator?.shutdown()
        await fixture.stop()
    }

    /// What the server says first, or "" when it closes without a word.
    func firstBytes(_ port: Int, send: String? = nil) throws -> String {
        let c = try TestClient(port: port)
        if let send { try c.send(send) }
        return (try? c.readLine()) .flatMap { $0 } ?? ""
    }

    let elsewhere = try! TrustedNetworks(parsing: "10.0.0.0/8")

    func startCoordinator(networks: TrustedNetworks) async throws -> InboundServer {
        let any = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        var c = CoordinatorConfiguration(lmtpListen: [any], smtpListen: [any], socketmapListen: [any], hostname: "mx.test",
                                         pickupInterval: .zero, httpListen: [any])
        c.mtaNetworks = networks
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = InboundServer(configuration: c, store: fixture.store, group: MultiThreadedEventLoopGroup.singleton,
                                   threadPool: fixture.threadPool, logger: logger)
        try await server.start()
        coordinator = server
        return server
    }

    func testCoordinatorRefusesPeersOutsideTheMTANetworksBeforeTheGreeting() async throws {
        let server = try await startCoordinator(networks: elsewhere)
        XCTAssertEqual(try firstBytes(server.lmtpAddresses[0].port!), "", "LMTP: closed, no greeting")
        XCTAssertEqual(try firstBytes(server.socketmapAddresses[0].port!, send: "15:domains mx.test,"), "", "socketmap: closed unanswered")
        XCTAssertEqual(try firstBytes(server.httpAddresses[0].port!, send: "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"), "",
                       "metrics and health: closed")
        XCTAssertTrue(try firstBytes(server.smtpAddresses[0].port!).hasPrefix("220 "), "SMTP is for the Internet")
    }

    func testLoopbackIsTheDefault() async throws {
        let server = try await startCoordinator(networks: CoordinatorConfiguration().mtaNetworks)
        XCTAssertTrue(try firstBytes(server.lmtpAddresses[0].port!).hasPrefix("220 "))
        XCTAssertTrue(try firstBytes(server.httpAddresses[0].port!, send: "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 200"))
    }

    func testNodeHealthListenerServesOnlyItsNetworks() async throws {
        try await fixture.start {
            $0.httpListen = [try! SocketAddress(ipAddress: "127.0.0.1", port: 0)]
            $0.httpAllowed = try! TrustedNetworks(parsing: "10.0.0.0/8")
        }
        XCTAssertEqual(try firstBytes(fixture.server.boundHTTPAddresses[0].port!, send: "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"), "")
        XCTAssertTrue(try firstBytes(fixture.port).hasPrefix("+OK"), "POP3 serves everyone")
    }
}
