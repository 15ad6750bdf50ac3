import NIOCore
import ServerSupport
import XCTest

@testable import Node

/// SIGHUP's split of a configuration read again: what a running node takes at once, what waits for a restart.
final class NodeReloadTests: XCTestCase {
    func testLiveSettingsAreTakenAndRestartOnlyOnesKept() throws {
        var old = NodeConfiguration(listen: [try SocketAddress(ipAddress: "127.0.0.1", port: 110)], nodeID: "n1")
        old.certificatePath = "/etc/poplar/cert.pem"
        old.privateKeyPath = "/etc/poplar/key.pem"
        var fresh = old
        fresh.greeting = "hello"
        fresh.maxConnections = 5
        fresh.proxyTrusted = try TrustedNetworks(parsing: "10.0.0.0/8")
        fresh.certificatePath = "/etc/poplar/renewed.pem"
        fresh.listen = [try SocketAddress(ipAddress: "127.0.0.1", port: 111)]
        fresh.nodeID = "n2"
        fresh.auth.timeout = .seconds(3)
        let changes = fresh.reloadChanges(from: old)
        XCTAssertEqual(Set(changes.live), ["pop3.greeting", "pop3.max-connections", "proxy.trusted", "tls.cert"])
        XCTAssertEqual(Set(changes.restart), ["pop3.listen", "node.id", "auth.*"])
        let next = fresh.applyingLiveSettings(to: old)
        XCTAssertEqual(next.greeting, "hello")
        XCTAssertEqual(next.maxConnections, 5)
        XCTAssertEqual(next.certificatePath, "/etc/poplar/renewed.pem")
        XCTAssertEqual(next.listen, old.listen, "listeners stay until a restart")
        XCTAssertEqual(next.nodeID, "n1")
        XCTAssertEqual(next.auth, old.auth)
        XCTAssertEqual(fresh.reloadChanges(from: fresh).live, [], "the same file changes nothing")
    }

    func testTurningTLSOrThePenaltyOnOrOffNeedsARestart() {
        let old = NodeConfiguration(nodeID: "n1")
        var fresh = old
        fresh.certificatePath = "/c.pem"
        fresh.privateKeyPath = "/k.pem"
        fresh.authPenaltyMaximum = 0
        let changes = fresh.reloadChanges(from: old)
        XCTAssertEqual(Set(changes.restart), ["tls.cert", "tls.key", "pop3.auth-penalty-max"])
        XCTAssertEqual(changes.live, [])
        let next = fresh.applyingLiveSettings(to: old)
        XCTAssertNil(next.certificatePath)
        XCTAssertEqual(next.authPenaltyMaximum, old.authPenaltyMaximum)
        var raised = old
        raised.authPenaltyMaximum = 30
        XCTAssertEqual(raised.reloadChanges(from: old).live, ["pop3.auth-penalty-max"], "between two non-zero values it is live")
    }
}
