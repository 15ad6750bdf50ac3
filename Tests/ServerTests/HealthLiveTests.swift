import Foundation
import NIOCore
import SharedStore
import XCTest

@testable import Node

/// The node's HTTP health endpoint over a real socket: liveness, readiness, 503 when the store is unreachable and
/// while draining.
final class HealthLiveTests: XCTestCase {
    var fixture: NodeFixture!

    override func setUp() async throws {
        fixture = try NodeFixture()
    }

    override func tearDown() async throws {
        await fixture.stop()
    }

    /// One HTTP/1.1 request; the status code and body.
    func get(_ path: String, method: String = "GET") throws -> (Int, String) {
        let c = try TestClient(port: fixture.server.boundHTTPAddresses[0].port!)
        try c.send("\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let status = try c.readLine() ?? ""
        var body = ""
        var inBody = false
        while let line = try? c.readLine() {
            if inBody { body += line } else if line.isEmpty { inBody = true }
        }
        return (Int(status.split(separator: " ").dropFirst().first ?? "") ?? 0, body)
    }

    func testLivenessReadinessAndTheirFailures() async throws {
        try await fixture.start { $0.httpListen = [try! SocketAddress(ipAddress: "127.0.0.1", port: 0)] }
        XCTAssertEqual(try get("/health/live").0, 200)
        XCTAssertEqual(try get("/health/ready").0, 200)
        XCTAssertEqual(try get("/health/ready", method: "HEAD").0, 200)
        XCTAssertEqual(try get("/nothing").0, 404)
        XCTAssertEqual(try get("/health/ready", method: "POST").0, 405)
        fixture.volume.failing.withLockedValue { $0 = true }
        let (status, body) = try get("/health/ready")
        XCTAssertEqual(status, 503)
        XCTAssertTrue(body.hasPrefix("store unreachable"), body)
        XCTAssertEqual(try get("/health/live").0, 200, "alive even when the store is not")
        fixture.volume.failing.withLockedValue { $0 = false }
        XCTAssertEqual(try get("/health/ready").0, 200)
    }

    func testReadinessFailsWhileDraining() async throws {
        let alice = try fixture.addMailbox("alice")
        try await fixture.start {
            $0.httpListen = [try! SocketAddress(ipAddress: "127.0.0.1", port: 0)]
            $0.drainTime = .seconds(3)
        }
        let c = try fixture.login(alice)
        let server = fixture.server!
        let shutdown = Task { await server.shutdown() }
        try await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertTrue(server.isDraining)
        XCTAssertEqual(try get("/health/ready").0, 503, "draining: the load balancer sends no new clients")
        XCTAssertEqual(try get("/health/live").0, 200)
        XCTAssertTrue(try c.command("QUIT").hasPrefix("+OK"), "a session in flight finishes")
        await shutdown.value
    }
}
