import Foundation
import NIOCore
import NIOEmbedded
import XCTest

@testable import ServerSupport

/// The channel bindings SCRAM-SHA-256-PLUS uses: tls-server-end-point (RFC 5929 §4.1) and tls-exporter (RFC 9266,
/// the TLS 1.3 exporter of RFC 8446 §7.5 from the key log).
final class ChannelBindingTests: XCTestCase {
    // RFC 8446 §7.5 with RFC 9266's label and length; expected values from an independent Python implementation of
    // HKDF-Expand-Label (hmac, hashlib). The live suite checks the same against OpenSSL's exporter.
    func testExporterKnownAnswers() {
        XCTAssertEqual(hex(TLS13Exporter.channelBinding(exporterSecret: Array(0..<32))!),
                       "34a93b1dd3c2b63ebc1bced0d7d37ade4e53c057e4d368578a5bef73771e2a1b")
        XCTAssertEqual(hex(TLS13Exporter.channelBinding(exporterSecret: Array(0..<48))!),
                       "611c8f80782a86df99c005b09cafa11d5c3ef90ffcfbaa44cd1eda33d03ccdee")
        XCTAssertNil(TLS13Exporter.channelBinding(exporterSecret: Array(0..<20)))
    }

    func testKeyLogKeepsOnlyExporterSecretsOnce() {
        let secrets = TLSExporterSecrets()
        let random = String(repeating: "ab", count: 32)
        for line in ["CLIENT_HANDSHAKE_TRAFFIC_SECRET \(random) \(String(repeating: "11", count: 32))",
                     "SERVER_TRAFFIC_SECRET_0 \(random) \(String(repeating: "22", count: 32))",
                     "EXPORTER_SECRET \(random) \(String(repeating: "33", count: 48))\n"] {
            secrets.record(ByteBuffer(string: line))
        }
        XCTAssertEqual(secrets.count, 1)
        XCTAssertEqual(secrets.take(clientRandom: Array(repeating: 0xAB, count: 32)), Array(repeating: 0x33, count: 48))
        XCTAssertNil(secrets.take(clientRandom: Array(repeating: 0xAB, count: 32)), "taken once")
        for bad in ["EXPORTER_SECRET \(random)", "EXPORTER_SECRET zz \(String(repeating: "33", count: 32))",
                    "EXPORTER_SECRET \(random) \(String(repeating: "33", count: 31))", "EXPORTER_SECRET \(random) 3",
                    "EXPORTER_SECRET \(random) \(String(repeating: "3", count: 5000))"] {
            secrets.record(ByteBuffer(string: bad))
        }
        XCTAssertEqual(secrets.count, 0)
    }

    // Never more than maxEntries, whatever the handshake rate.
    func testKeyLogIsBounded() {
        let secrets = TLSExporterSecrets()
        for i in 0..<(TLSExporterSecrets.maxEntries + 100) {
            let random = String(format: "%064x", i)
            secrets.record(ByteBuffer(string: "EXPORTER_SECRET \(random) \(String(repeating: "44", count: 32))"))
        }
        XCTAssertEqual(secrets.count, TLSExporterSecrets.maxEntries)
    }

    /// A TLS 1.3 ClientHello's first 43 bytes: record header, handshake header, legacy_version, random.
    func clientHelloPrefix(random: [UInt8]) -> [UInt8] {
        [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + random + Array(repeating: 0x20, count: 40)
    }

    func testClientHelloRandomAcrossReadsAndBytesUnchanged() throws {
        var found: [UInt8]?
        let channel = EmbeddedChannel(handler: ClientHelloRandomHandler { found = $0 })
        let random = Array(UInt8(1)...UInt8(32))
        let hello = clientHelloPrefix(random: random)
        for chunk in [hello[0..<3], hello[3..<20], hello[20...]] {
            try channel.writeInbound(ByteBuffer(bytes: chunk))
        }
        XCTAssertEqual(found, random)
        var passed: [UInt8] = []
        while let b = try channel.readInbound(as: ByteBuffer.self) { passed += b.readableBytesView }
        XCTAssertEqual(passed, hello, "every byte passed on, unchanged")
        XCTAssertThrowsError(try channel.pipeline.syncOperations.handler(type: ClientHelloRandomHandler.self), "left the pipeline")
        _ = try channel.finish()
    }

    func testNotAClientHello() throws {
        var found: [UInt8]?
        let channel = EmbeddedChannel(handler: ClientHelloRandomHandler { found = $0 })
        try channel.writeInbound(ByteBuffer(string: "USER alice\r\n"))
        XCTAssertNil(found)
        XCTAssertEqual(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) }, "USER alice\r\n")
        XCTAssertThrowsError(try channel.pipeline.syncOperations.handler(type: ClientHelloRandomHandler.self))
        _ = try channel.finish()
    }

    // RFC 5929 §4.1: the certificate's own hash (SHA-256 for sha256WithRSA, SHA-384 for ecdsa-with-SHA384); none for
    // Ed25519, which has no hash of its own. Certificates made by openssl; expected hashes by `openssl dgst`.
    func testServerEndPoint() throws {
        let dir = NSTemporaryDirectory() + "poplar-cb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, [String], String?)] = [
            ("rsa", ["-newkey", "rsa:2048", "-sha256"], "sha256"),
            ("ec384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-sha384"], "sha384"),
            ("ec512", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha512"], "sha512"),
            ("ed25519", ["-newkey", "ed25519"], nil),
        ]
        for (name, args, digest) in cases {
            let der = "\(dir)/\(name).der"
            try run(["req", "-x509", "-nodes", "-keyout", "\(dir)/\(name).key", "-outform", "DER", "-out", der, "-days", "1",
                     "-subj", "/CN=localhost"] + args)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: der)))
            let binding = TLSServerEndPoint.binding(der: bytes)
            if let digest {
                let expected = try run(["dgst", "-\(digest)", "-binary", der])
                XCTAssertEqual(binding, expected, name)
            } else {
                XCTAssertNil(binding, name)
            }
        }
        XCTAssertNil(TLSServerEndPoint.binding(der: [0x30, 0x82, 0xFF]))
        XCTAssertNil(TLSServerEndPoint.binding(der: []))
    }

    @discardableResult
    func run(_ arguments: [String]) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, arguments.joined(separator: " "))
        return Array(data)
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
