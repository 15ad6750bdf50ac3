import Foundation
import XCTest

@testable import SharedStore

/// Bearer tokens of the console's HTTP API: only the token made verifies, and only while it is valid.
final class APITokenTests: XCTestCase {
    func testATokenVerifiesUntilRevokedExpiredOrItsAdministratorRemoved() throws {
        let f = try StoreFixture()
        try f.store.addAdmin("ops", password: "pw")
        let now = Date()
        let (token, record) = try f.store.makeAPIToken(admin: "ops", days: 1, now: now)
        XCTAssertTrue(token.hasPrefix("poplar_" + record.id + "_"))
        XCTAssertEqual(token.utf8.count, 7 + 16 + 1 + 43)
        XCTAssertEqual(f.store.verifyAPIToken(token, now: now), "ops")
        let stored = try String(contentsOfFile: f.path + "/.poplar/tokens/" + record.id, encoding: .utf8)
        XCTAssertFalse(stored.contains(String(token.dropFirst(24))), "the secret is not kept")

        var wrong = Array(token)
        wrong[wrong.count - 1] = wrong.last == "A" ? "B" : "A"
        XCTAssertNil(f.store.verifyAPIToken(String(wrong), now: now), "another secret")
        for bad in ["", "poplar_", String(token.dropLast()), token + "x", "Bearer " + token, token.uppercased(),
                    "poplar_../../../../x_" + String(repeating: "a", count: 43), String(repeating: "p", count: 100_000)] {
            XCTAssertNil(f.store.verifyAPIToken(bad, now: now), bad.prefix(40).description)
        }
        XCTAssertNil(f.store.verifyAPIToken(token, now: now.addingTimeInterval(86_401)), "expired")

        let (other, otherRecord) = try f.store.makeAPIToken(admin: "ops", days: nil)
        XCTAssertEqual(f.store.verifyAPIToken(other), "ops")
        try f.store.revokeAPIToken(otherRecord.id)
        XCTAssertNil(f.store.verifyAPIToken(other), "revoked")
        XCTAssertThrowsError(try f.store.revokeAPIToken(otherRecord.id))

        let (third, _) = try f.store.makeAPIToken(admin: "ops", days: nil)
        try f.store.removeAdmin("ops")
        XCTAssertNil(f.store.verifyAPIToken(third))
        try f.store.addAdmin("ops", password: "pw2")
        XCTAssertNil(f.store.verifyAPIToken(third), "an administrator added again under the name gets none of the old tokens")
        XCTAssertNil(f.store.verifyAPIToken(token, now: now))

        XCTAssertThrowsError(try f.store.makeAPIToken(admin: "ghost", days: nil))
        XCTAssertThrowsError(try f.store.makeAPIToken(admin: "ops", days: 0))
    }

    func testATokenOfAnotherClustersGUIDDoesNotVerify() throws {
        let f = try StoreFixture(), g = try StoreFixture()
        try f.store.addAdmin("ops", password: "pw")
        try g.store.addAdmin("ops", password: "pw")
        let (token, record) = try g.store.makeAPIToken(admin: "ops", days: nil)
        try FileManager.default.createDirectory(atPath: f.path + "/.poplar/tokens", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: g.path + "/.poplar/tokens/" + record.id, toPath: f.path + "/.poplar/tokens/" + record.id)
        XCTAssertEqual(g.store.verifyAPIToken(token), "ops")
        XCTAssertNil(f.store.verifyAPIToken(token), "keyed by the GUID: a record copied to another cluster verifies nothing")
    }

    func testRecordsAreDataFromTheNAS() {
        XCTAssertNil(APIToken(id: "0123456789abcdef", decoding: Array(repeating: 0x41, count: APIToken.maxRecordSize + 1)))
        XCTAssertNil(APIToken(id: "0123456789abcdef", decoding: Array("admin=x\nkey=k\nmac=short\ncreated=1\n".utf8)))
        XCTAssertNil(APIToken(id: "../x", decoding: []))
        XCTAssertNil(APIToken(id: "0123456789abcdef", decoding: Array("admin=x\nkey=k\nmac=\(String(repeating: "0", count: 64))\ncreated=9223372036854775807\n".utf8)),
                     "a time past the year 9999")
        XCTAssertNil(APIToken(id: "0123456789abcdef", decoding: Array("admin=x\nkey=k\nmac=\(String(repeating: "0", count: 64))\ncreated=1\nexpires=soon\n".utf8)))
        XCTAssertNotNil(APIToken(id: "0123456789abcdef", decoding: Array("admin=x\nkey=k\nmac=\(String(repeating: "0", count: 64))\ncreated=1\n".utf8)))
    }
}
