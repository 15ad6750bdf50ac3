import Foundation
import NIOCore
import ServerSupport
import SharedStore
import XCTest

@testable import Node

/// PROXY protocol v1/v2 from a trusted load balancer, over real sockets: the greeting waits for the header, the
/// real client address is the one the plaintext policy sees, and a header from anyone else is refused.
final class ProxyProtocolLiveTests: XCTestCase {
    var fixture: NodeFixture!

    override func setUp() async throws {
        fixture = try NodeFixture()
    }

    override func tearDown() async throws {
        await fixture.stop()
    }

    func start(trusted: String) async throws -> MailboxAddress {
        let alice = try fixture.addMailbox("alice")
        try fixture.deliver("Subject: x\r\n\r\nx\r\n", to: alice)
        let networks = try TrustedNetworks(parsing: trusted)
        try await fixture.start { $0.proxyTrusted = networks }
        return alice
    }

    func v2Header(source: [UInt8], port: UInt16) -> [UInt8] {
        ProxyHeaderDecoder.v2Signature + [0x21, 0x11, 0x00, 0x0C] + source + [127, 0, 0, 1] + [UInt8(port >> 8), UInt8(port & 0xFF), 0, 110]
    }

    func testVersion1HeaderFromTrustedPeerGivesTheRealClientToThePlaintextPolicy() async throws {
        let alice = try await start(trusted: "127.0.0.0/8")
        // A client on a loopback address (behind the proxy) may log in without TLS under the default policy …
        let c = try fixture.client()
        try c.send("PROXY TCP4 127.0.0.9 127.0.0.1 40000 110\r\n")
        XCTAssertTrue(try c.readLine()?.hasPrefix("+OK") ?? false)
        XCTAssertTrue(try c.command("USER \(alice)").hasPrefix("+OK"))
        XCTAssertTrue(try c.command("PASS secret").hasPrefix("+OK"))
        XCTAssertTrue(try c.command("QUIT").hasPrefix("+OK"))
        // … one from the Internet may not: the policy sees 192.0.2.7, not the proxy's loopback address.
        let d = try fixture.client()
        try d.send("PROXY TCP4 192.0.2.7 127.0.0.1 40001 110\r\nUSER \(alice)\r\n")
        XCTAssertTrue(try d.readLine()?.hasPrefix("+OK") ?? false, "greeting after the header")
        let reply = try d.readLine() ?? ""
        XCTAssertTrue(reply.hasPrefix("-ERR"), "plaintext USER from a non-loopback client: \(reply)")
    }

    // The per-address limit counts the real client address from the PROXY header, not the load balancer's.
    func testPerAddressLimitCountsTheRealClientAddress() async throws {
        let networks = try TrustedNetworks(parsing: "127.0.0.1")
        try await fixture.start {
            $0.proxyTrusted = networks
            $0.maxConnectionsPerAddress = 2
        }
        func connect(from address: String, port: Int) throws -> (TestClient, String) {
            let c = try fixture.client()
            try c.send("PROXY TCP4 \(address) 127.0.0.1 \(port) 110\r\n")
            return (c, try c.readLine() ?? "")
        }
        let (a, greetingA) = try connect(from: "192.0.2.7", port: 40000)
        let (b, greetingB) = try connect(from: "192.0.2.7", port: 40001)
        XCTAssertTrue(greetingA.hasPrefix("+OK") && greetingB.hasPrefix("+OK"))
        let (c, refused) = try connect(from: "192.0.2.7", port: 40002)
        XCTAssertTrue(refused.hasPrefix("-ERR [SYS/TEMP]"), refused)
        XCTAssertNil(try c.readLine(), "closed after the refusal")
        let (d, other) = try connect(from: "198.51.100.1", port: 40003)
        XCTAssertTrue(other.hasPrefix("+OK"), "another address is not affected: \(other)")
        // A closed connection frees its place.
        XCTAssertTrue(try a.command("QUIT").hasPrefix("+OK"))
        XCTAssertNil(try a.readLine())
        var again = ""
        for _ in 0..<50 {
            let (e, greeting) = try connect(from: "192.0.2.7", port: 40004)
            again = greeting
            if greeting.hasPrefix("+OK") { _ = try e.command("QUIT"); break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssertTrue(again.hasPrefix("+OK"), again)
        XCTAssertTrue(try b.command("CAPA").hasPrefix("+OK"), "the connections that were admitted are served")
        while let line = try b.readLine(), line != "." {}
        _ = try b.command("QUIT")
        _ = try d.command("QUIT")
    }

    func testVersion2HeaderAndPipelinedCommandsInOneSegment() async throws {
        let alice = try await start(trusted: "127.0.0.1")
        let c = try fixture.client()
        try c.sendBytes(v2Header(source: [127, 0, 0, 44], port: 4444) + Array("USER \(alice)\r\nPASS secret\r\nSTAT\r\n".utf8))
        XCTAssertTrue(try c.readLine()?.hasPrefix("+OK") ?? false)
        XCTAssertTrue(try c.readLine()?.hasPrefix("+OK") ?? false)
        XCTAssertTrue(try c.readLine()?.hasPrefix("+OK") ?? false)
        XCTAssertEqual(try c.readLine(), "+OK 1 17")
    }

    func testVersion2LocalCommandIsTheProxysOwnConnection() async throws {
        _ = try await start(trusted: "127.0.0.1")
        let c = try fixture.client()
        try c.sendBytes(ProxyHeaderDecoder.v2Signature + [0x20, 0x00, 0x00, 0x00])
        XCTAssertTrue(try c.readLine()?.hasPrefix("+OK") ?? false)
        XCTAssertTrue(try c.command("QUIT").hasPrefix("+OK"))
    }

    func testTrustedPeerWithoutAHeaderIsAnsweredAndClosed() async throws {
        _ = try await start(trusted: "127.0.0.1")
        let c = try fixture.client()
        try c.send("USER alice@example.test\r\n")
        let reply = try c.readLine() ?? ""
        XCTAssertTrue(reply.hasPrefix("-ERR bad PROXY header"), reply)
        XCTAssertTrue(c.isClosedByServer())
        let d = try fixture.client()
        try d.sendBytes(ProxyHeaderDecoder.v2Signature + [0x21, 0x11, 0xFF, 0xFF])
        XCTAssertTrue((try d.readLine() ?? "").hasPrefix("-ERR bad PROXY header"))
        XCTAssertTrue(d.isClosedByServer())
    }

    func testHeaderFromAnUntrustedPeerIsRefused() async throws {
        _ = try await start(trusted: "10.0.0.0/8")
        let c = try fixture.client()
        XCTAssertTrue(try c.readLine()?.hasPrefix("+OK") ?? false, "a direct client is greeted at once")
        try c.send("PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n")
        XCTAssertEqual(try c.readLine(), "-ERR PROXY header not accepted from this address")
        XCTAssertTrue(c.isClosedByServer())
        let d = try fixture.client()
        XCTAssertTrue(try d.readLine()?.hasPrefix("+OK") ?? false)
        try d.sendBytes(v2Header(source: [1, 2, 3, 4], port: 1))
        XCTAssertEqual(try d.readLine(), "-ERR PROXY header not accepted from this address")
        XCTAssertTrue(d.isClosedByServer())
        // Ordinary clients are unaffected.
        let e = try fixture.client()
        XCTAssertTrue(try e.readLine()?.hasPrefix("+OK") ?? false)
        XCTAssertTrue(try e.command("CAPA").hasPrefix("+OK"))
    }
}
