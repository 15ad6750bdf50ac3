import XCTest

@testable import Node

/// MD4 against RFC 1320 §A.5, NTLMv2 against [MS-NLMP] §4.2.4 (User, Domain, Password; server challenge
/// 0123456789abcdef, client challenge aa×8, time 0, target info Domain/Server).
final class NTLMv2Tests: XCTestCase {
    func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
    func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = [], s = Substring(hex.filter { !$0.isWhitespace })
        while !s.isEmpty { out.append(UInt8(s.prefix(2), radix: 16)!); s = s.dropFirst(2) }
        return out
    }

    func testMD4RFC1320Suite() {
        let suite = [
            ("", "31d6cfe0d16ae931b73c59d7e0c089c0"), ("a", "bde52cb31de33e46245e05fbdbd6fb24"),
            ("abc", "a448017aaf21d8525fc10ae87aa6729d"), ("message digest", "d9130a8164549fe818874806e1c7014b"),
            ("abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"),
            (String(repeating: "1234567890", count: 8), "e33b4ddc9c38f2199c3e7b164fcc0536"),
        ]
        for (text, digest) in suite { XCTAssertEqual(hex(MD4.hash(Array(text.utf8))), digest, text) }
    }

    func testMSNLMPNTLMv2Vector() {
        let serverChallenge = bytes("0123456789abcdef")
        let targetInfo = bytes("02000c0044006f006d00610069006e00 01000c005300650072007600650072000000 0000")
        let blob = bytes("0101000000000000") + [UInt8](repeating: 0, count: 8) + [UInt8](repeating: 0xAA, count: 8) + [0, 0, 0, 0]
            + targetInfo + [0, 0, 0, 0]
        let proof = bytes("68cd0ab851e51c96aabc927bebef6a1c")
        XCTAssertTrue(NTLMv2.verify(password: Array("Password".utf8), user: "User", domain: "Domain", challenge: serverChallenge,
                                    response: proof + blob))
        // The user name is case-insensitive (NTOWFv2 upper-cases it), the domain and the password are not.
        XCTAssertTrue(NTLMv2.verify(password: Array("Password".utf8), user: "user", domain: "Domain", challenge: serverChallenge,
                                    response: proof + blob))
        XCTAssertFalse(NTLMv2.verify(password: Array("password".utf8), user: "User", domain: "Domain", challenge: serverChallenge,
                                     response: proof + blob))
        XCTAssertFalse(NTLMv2.verify(password: Array("Password".utf8), user: "User", domain: "DOMAIN", challenge: serverChallenge,
                                     response: proof + blob))
        // Another server challenge (a replay to another connection) fails; so does a changed blob.
        XCTAssertFalse(NTLMv2.verify(password: Array("Password".utf8), user: "User", domain: "Domain",
                                     challenge: bytes("0123456789abcdee"), response: proof + blob))
        XCTAssertFalse(NTLMv2.verify(password: Array("Password".utf8), user: "User", domain: "Domain", challenge: serverChallenge,
                                     response: proof + blob.dropLast() + [1]))
    }
}
