import SharedStore
import XCTest

@testable import Node

/// Logins through a real POP3 server whose account directory is a real slapd: USER/PASS and AUTH PLAIN answered
/// by the directory, an external mailbox opened, and a directory that goes away answered [SYS/TEMP].
final class LDAPServerLiveTests: XCTestCase {
    var slapd: SlapdFixture!
    var node: NodeFixture!

    override func setUp() async throws {
        slapd = try SlapdFixture()
        let passwordFile = slapd.directory + "/service.pw"
        try SlapdFixture.servicePassword.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        node = try NodeFixture()
        try node.store.addDomain("poplar.test")
        for user in ["alice", "bob"] {
            try node.store.createMailbox(try MailboxAddress(mailbox: user, domain: "poplar.test"), password: nil, allowAPOP: false, quota: nil)
        }
        let settings = LDAPSettings(uri: slapd.uri, base: SlapdFixture.suffix, bindDN: SlapdFixture.serviceDN,
                                    bindPasswordFile: passwordFile, groupDN: SlapdFixture.groupDN)
        try await node.start { $0.auth = AuthConfiguration(method: .ldap(settings), timeout: .seconds(2)) }
    }

    override func tearDown() async throws {
        await node?.stop()
        slapd?.remove()
    }

    func pass(_ user: String, _ password: String) throws -> String {
        let c = try node.client()
        defer { c.abort() }
        _ = try c.readLine()
        _ = try c.command("USER \(user)")
        return try c.command("PASS \(password)")
    }

    func testLoginsAreAnsweredByTheDirectory() throws {
        let c = try node.client()
        _ = try c.readLine()
        XCTAssertTrue(try c.command("USER alice@poplar.test").hasPrefix("+OK"))
        let reply = try c.command("PASS alicepw")
        XCTAssertTrue(reply.hasPrefix("+OK"), reply)
        XCTAssertTrue(try c.command("STAT").hasPrefix("+OK 0 "), "the external mailbox, held")
        XCTAssertNotEqual(try node.store.lockState(try MailboxAddress(parsing: "alice@poplar.test")), .free)
        XCTAssertTrue(try c.command("QUIT").hasPrefix("+OK"))

        XCTAssertTrue(try pass("alice@poplar.test", "wrong").hasPrefix("-ERR [AUTH]"))
        XCTAssertTrue(try pass("bob@poplar.test", "bobpw").hasPrefix("-ERR [AUTH]"), "outside the group")
        XCTAssertTrue(try pass("dave@poplar.test", "davepw").hasPrefix("-ERR [AUTH]"), "in the directory, no mailbox here")

        let plain = try node.client()
        defer { plain.abort() }
        _ = try plain.readLine()
        let token = Data("\0alice@poplar.test\0alicepw".utf8).base64EncodedString()
        XCTAssertTrue(try plain.command("AUTH PLAIN \(token)").hasPrefix("+OK"))
    }

    func testADirectoryDownIsATemporaryFailure() throws {
        slapd.stop()
        let reply = try pass("alice@poplar.test", "alicepw")
        XCTAssertTrue(reply.hasPrefix("-ERR [SYS/TEMP]"), reply)
        try slapd.start()
        XCTAssertTrue(try pass("alice@poplar.test", "alicepw").hasPrefix("+OK"))
    }
}
