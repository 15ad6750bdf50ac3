import XCTest

@testable import ServerSupport

/// The PROXY protocol (haproxy.org proxy-protocol.txt) header decoder: fixture tables, every split point, bounds.
final class ProxyHeaderDecoderTests: XCTestCase {
    typealias A = ProxyHeaderDecoder.Address

    func v2(command: UInt8 = 0x21, family: UInt8 = 0x11, block: [UInt8], declaredLength: Int? = nil) -> [UInt8] {
        let n = declaredLength ?? block.count
        return ProxyHeaderDecoder.v2Signature + [command, family, UInt8(n >> 8), UInt8(n & 0xFF)] + block
    }

    let v4Block: [UInt8] = [192, 0, 2, 7, 10, 0, 0, 1, 0xC3, 0x50, 0x00, 0x6E]  // 192.0.2.7:50000 → 10.0.0.1:110

    func testVersion1Table() {
        let cases: [(String, ProxyHeaderDecoder.Result)] = [
            ("PROXY TCP4 192.0.2.7 10.0.0.1 50000 110\r\n", .proxied(source: A(host: "192.0.2.7", port: 50000), destination: A(host: "10.0.0.1", port: 110), consumed: 41)),
            ("PROXY TCP6 2001:DB8::7 ::1 1 995\r\n", .proxied(source: A(host: "2001:db8::7", port: 1), destination: A(host: "::1", port: 995), consumed: 34)),
            ("PROXY UNKNOWN\r\n", .local(consumed: 15)),
            ("PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n", .local(consumed: 39)),
            ("PROXY TCP4 192.0.2.7 10.0.0.1 50000 110\n", .invalid("PROXY v1 line does not end in CRLF")),
            ("PROXY TCP4 192.0.2.256 10.0.0.1 1 2\r\n", .invalid("PROXY v1: bad address or port")),
            ("PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n", .invalid("PROXY v1: bad address or port")),
            ("PROXY TCP4 192.0.2.7 10.0.0.1 01 2\r\n", .invalid("PROXY v1: bad address or port")),
            ("PROXY TCP4 ::1 ::1 1 2\r\n", .invalid("PROXY v1: bad address or port")),
            ("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", .invalid("PROXY v1: bad fields")),
            ("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", .invalid("PROXY v1: bad fields")),
            ("USER alice\r\n", .invalid("no PROXY header")),
            ("PROXZ TCP4\r\n", .invalid("no PROXY header")),
            ("PROXY TCP4 192.0.2.7", .needMoreBytes),
            ("", .needMoreBytes),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(ProxyHeaderDecoder.decode(Array(text.utf8)), expected, text)
        }
    }

    func testVersion1LineIsBounded() {
        let long = "PROXY TCP6 " + String(repeating: "f", count: 200)
        XCTAssertEqual(ProxyHeaderDecoder.decode(Array(long.utf8)), .invalid("PROXY v1 line longer than 107 bytes"))
        XCTAssertEqual(ProxyHeaderDecoder.decode(Array(long.utf8.prefix(106))), .needMoreBytes)
    }

    func testVersion2Table() {
        var v6: [UInt8] = Array(repeating: 0, count: 36)
        v6[0] = 0x20; v6[1] = 0x01; v6[2] = 0x0d; v6[3] = 0xb8; v6[15] = 7  // 2001:db8::7
        v6[31] = 1  // ::1
        v6[32] = 0x01; v6[33] = 0xBB; v6[34] = 0x03; v6[35] = 0xE3
        let tlv: [UInt8] = [0x04, 0x00, 0x02, 0xAB, 0xCD]  // PP2_TYPE_NOOP with 2 bytes
        let cases: [([UInt8], ProxyHeaderDecoder.Result)] = [
            (v2(block: v4Block), .proxied(source: A(host: "192.0.2.7", port: 50000), destination: A(host: "10.0.0.1", port: 110), consumed: 28)),
            (v2(block: v4Block + tlv), .proxied(source: A(host: "192.0.2.7", port: 50000), destination: A(host: "10.0.0.1", port: 110), consumed: 33)),
            (v2(family: 0x21, block: v6), .proxied(source: A(host: "2001:db8::7", port: 443), destination: A(host: "::1", port: 995), consumed: 52)),
            (v2(command: 0x20, family: 0x00, block: []), .local(consumed: 16)),
            (v2(command: 0x20, block: v4Block), .local(consumed: 28)),
            (v2(family: 0x00, block: []), .local(consumed: 16)),
            (v2(command: 0x11, block: v4Block), .invalid("PROXY v2: version 1")),
            (v2(command: 0x22, block: v4Block), .invalid("PROXY v2: command 2")),
            (v2(family: 0x12, block: v4Block), .invalid("PROXY v2: family 1 transport 2 not served")),
            (v2(family: 0x31, block: Array(repeating: 0, count: 216)), .invalid("PROXY v2: family 3 transport 1 not served")),
            (v2(block: Array(v4Block.prefix(8))), .invalid("PROXY v2: short IPv4 block")),
            (v2(block: [], declaredLength: 2000), .invalid("PROXY v2: address block of 2000 bytes")),
            (v2(block: Array(v4Block.prefix(5)), declaredLength: 12), .needMoreBytes),
        ]
        for (bytes, expected) in cases {
            XCTAssertEqual(ProxyHeaderDecoder.decode(bytes), expected, "\(bytes)")
        }
    }

    // The decoder never decides on a prefix of a valid header, whatever the split: it asks for more bytes.
    func testEverySplitNeedsMoreBytesUntilComplete() {
        let headers = [Array("PROXY TCP4 192.0.2.7 10.0.0.1 50000 110\r\n".utf8), v2(block: v4Block)]
        for header in headers {
            for cut in 0..<header.count {
                XCTAssertEqual(ProxyHeaderDecoder.decode(Array(header.prefix(cut))), .needMoreBytes, "cut at \(cut)")
            }
            let withData = header + Array("USER alice\r\n".utf8)
            guard case .proxied(_, _, let consumed) = ProxyHeaderDecoder.decode(withData) else { return XCTFail() }
            XCTAssertEqual(consumed, header.count, "what follows the header is left for POP3")
        }
    }

    func testLooksLikeHeader() {
        XCTAssertTrue(ProxyHeaderDecoder.looksLikeHeader(Array("PROXY TCP4 1.2.3.4".utf8)))
        XCTAssertTrue(ProxyHeaderDecoder.looksLikeHeader(ProxyHeaderDecoder.v2Signature))
        XCTAssertFalse(ProxyHeaderDecoder.looksLikeHeader(Array("USER x\r\n".utf8)))
        XCTAssertFalse(ProxyHeaderDecoder.looksLikeHeader(Array("\r\nUSER".utf8)))
    }

    // A v2 header from an untrusted peer is refused however it is split, even before its 4th byte.
    func testGateSeesAV2HeaderSplitBeforeItsFourthByte() {
        for cut in 1...4 {
            var gate = ProxyHeaderGate()
            let header = ProxyHeaderDecoder.v2Signature + [0x20, 0x00, 0x00, 0x00]
            XCTAssertEqual(gate.inspect(header.prefix(cut)), .undecided, "first read of \(cut) bytes")
            XCTAssertEqual(gate.inspect(header.dropFirst(cut)), .header, "first read of \(cut) bytes")
        }
        var gate = ProxyHeaderGate()
        XCTAssertEqual(gate.inspect(Array("\r\n".utf8)), .undecided)
        XCTAssertEqual(gate.inspect(Array("USER a\r\n".utf8)), .notAHeader, "an empty line, then a command")
    }

    func testIPv6TextRoundTrip() {
        let cases = ["::", "::1", "2001:db8::7", "fe80::1:0:0:1", "2001:db8:0:1:1:1:1:1", "1::", "::ffff:192.0.2.1"]
        let expected = ["::", "::1", "2001:db8::7", "fe80::1:0:0:1", "2001:db8:0:1:1:1:1:1", "1::", "::ffff:c000:201"]
        for (text, want) in zip(cases, expected) {
            guard let bytes = IPAddressText.parseIPv6(text) else { XCTFail(text); continue }
            XCTAssertEqual(IPAddressText.formatIPv6(bytes), want)
        }
        for bad in ["", ":::", "1:2:3:4:5:6:7:8:9", "12345::", "g::", "1::2::3"] {
            XCTAssertNil(IPAddressText.parseIPv6(bad), bad)
        }
    }

    func testTrustedNetworks() throws {
        let t = try TrustedNetworks(parsing: "10.0.0.0/8, 192.168.1.7, ::1/128, 2001:db8::/32")
        XCTAssertEqual(t.blocks.map(\.description), ["10.0.0.0/8", "192.168.1.7/32", "::1/128", "2001:db8::/32"])
        XCTAssertTrue(t.contains([10, 200, 3, 4]))
        XCTAssertFalse(t.contains([11, 0, 0, 1]))
        XCTAssertTrue(t.contains([192, 168, 1, 7]))
        XCTAssertFalse(t.contains([192, 168, 1, 8]))
        XCTAssertTrue(t.contains(IPAddressText.parseIPv6("::1")!))
        XCTAssertTrue(t.contains(IPAddressText.parseIPv6("2001:db8:ffff::1")!))
        XCTAssertTrue(t.contains(IPAddressText.parseIPv6("::ffff:10.1.2.3")!), "IPv4-mapped")
        XCTAssertFalse(try TrustedNetworks(parsing: "").contains([127, 0, 0, 1]))
        XCTAssertTrue(try TrustedNetworks(parsing: "0.0.0.0/0").contains([1, 2, 3, 4]))
        XCTAssertTrue(try TrustedNetworks(parsing: "10.1.2.3/23").contains([10, 1, 3, 255]))
        for bad in ["10.0.0.0/33", "10.0.0/8", "::1/129", "host", "10.0.0.1/x"] {
            XCTAssertThrowsError(try TrustedNetworks(parsing: bad), bad)
        }
    }
}
