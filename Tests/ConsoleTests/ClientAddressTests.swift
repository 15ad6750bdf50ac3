@testable import Console
import NIOCore
import ServerSupport
import XCTest

final class ClientAddressTests: XCTestCase {
    func testOnlyATrustedProxyNamesTheClient() throws {
        let proxy = try SocketAddress(ipAddress: "127.0.0.1", port: 40000)
        let other = try SocketAddress(ipAddress: "192.0.2.1", port: 40000)
        let trusted = try TrustedNetworks(parsing: "127.0.0.0/8")
        // The last hop is the one the proxy appended; the ones before it came from the client.
        XCTAssertEqual(ClientAddress.resolve(peer: proxy, forwardedFor: "198.51.100.7, 203.0.113.9", trusted: trusted)?.ipAddress, "203.0.113.9")
        XCTAssertEqual(ClientAddress.resolve(peer: proxy, forwardedFor: "[2001:db8::1]", trusted: trusted)?.ipAddress, "2001:db8::1")
        XCTAssertEqual(ClientAddress.resolve(peer: other, forwardedFor: "203.0.113.9", trusted: trusted), other, "not a trusted proxy")
        XCTAssertEqual(ClientAddress.resolve(peer: proxy, forwardedFor: "203.0.113.9", trusted: TrustedNetworks()), proxy, "none trusted")
        XCTAssertEqual(ClientAddress.resolve(peer: proxy, forwardedFor: "not an address", trusted: trusted), proxy)
        XCTAssertEqual(ClientAddress.resolve(peer: proxy, forwardedFor: nil, trusted: trusted), proxy)
        XCTAssertEqual(ClientAddress.resolve(peer: proxy, forwardedFor: String(repeating: "1", count: 2000), trusted: trusted), proxy)
    }

    func testFormBodyIsBounded() {
        XCTAssertEqual(FormBody.parse("a=1&b=x+y%26z&a=2"), ["a": "1", "b": "x y&z"])
        XCTAssertNil(FormBody.parse((0..<17).map { "f\($0)=1" }.joined(separator: "&")), "too many fields")
        XCTAssertNil(FormBody.parse("a=" + String(repeating: "x", count: 2049)), "a field too long")
        XCTAssertNil(FormBody.parse("a=%zz"), "not percent-encoding")
        XCTAssertEqual(FormBody.encode("a b@c/<d>"), "a%20b%40c%2F%3Cd%3E")
    }
}
