import Foundation
import NIOCore
import POP3Core
import SharedStore
import XCTest

@testable import Node

/// PAM behind the whole login: the factory, the Authenticator (an account USER is served from the mailbox
/// USER@DOMAIN; a name that is no Unix name never reaches PAM) and a node over real sockets. Real accounts
/// (PAMFixture), root needed.
final class PAMLoginLiveTests: XCTestCase {
    var accounts: PAMFixture!
    var node: NodeFixture!

    override func setUp() async throws {
        if let why = PAMFixture.unavailableReason { throw XCTSkip(why) }
        accounts = try PAMFixture()
        node = try NodeFixture()
    }

    override func tearDown() async throws {
        await node?.stop()
        accounts?.remove()
    }

    var settings: PAMSettings { PAMSettings(service: accounts.service, group: accounts.group) }

    func testTheFactoryMakesThePAMDirectoryAndRefusesAWrongSetting() throws {
        let cache = LoginCache(ttl: .minutes(1), capacity: 10)
        let made = try AuthBackends.make(AuthConfiguration(method: .pam(settings)), store: node.store, cache: cache)
        XCTAssertEqual(made.name, "pam")
        XCTAssertTrue(made is PAMBackend)
        let missing = AuthConfiguration(method: .pam(PAMSettings(service: accounts.missingService, group: accounts.group)))
        XCTAssertThrowsError(try AuthBackends.make(missing, store: node.store, cache: cache)) {
            XCTAssertTrue("\($0)".contains("has no configuration file"), "\($0)")
        }
        let noGroup = AuthConfiguration(method: .pam(PAMSettings(service: accounts.service, group: "pnog_\(accounts.suffix)")))
        XCTAssertThrowsError(try AuthBackends.make(noGroup, store: node.store, cache: cache)) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
    }

    func testTheAuthenticatorServesTheAccountsMailbox() throws {
        let address = try MailboxAddress(mailbox: accounts.member, domain: NodeFixture.domain)
        try node.store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
        let pam = PAMBackend(settings: settings)
        let authenticator = Authenticator(store: node.store, nodeID: "t", backend: pam)
        let result = authenticator.authenticate(.password(user: "\(address)", password: accounts.password), sessionID: "s1")
        guard case .success(let mailbox, _) = result.outcome else { return XCTFail("\(result.outcome)") }
        XCTAssertEqual(mailbox, "\(address)")
        try result.session?.release()
        let wrong = authenticator.authenticate(.password(user: "\(address)", password: "wrong"), sessionID: "s2")
        XCTAssertEqual(wrong.outcome, .badCredentials)
    }

    func testNamesThatAreNotUnixNamesAreRefusedBeforePAM() throws {
        let pam = PAMBackend(settings: settings)
        let authenticator = Authenticator(store: node.store, nodeID: "t", backend: pam)
        for user in ["Bob Smith@\(NodeFixture.domain)", "../x@\(NodeFixture.domain)", "bob~smith@\(NodeFixture.domain)", "-x@\(NodeFixture.domain)"] {
            let result = authenticator.authenticate(.password(user: user, password: accounts.password), sessionID: "s")
            XCTAssertEqual(result.outcome, .badCredentials, user)
        }
        XCTAssertEqual(pam.transactionsStarted, 0)
    }

    func testANodeLogsAPAMAccountIn() async throws {
        let address = try MailboxAddress(mailbox: accounts.member, domain: NodeFixture.domain)
        try node.store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
        let settings = self.settings
        try await node.start { $0.auth = AuthConfiguration(method: .pam(settings), timeout: .seconds(15)) }
        let client = try node.login(address, password: accounts.password)
        XCTAssertTrue(try client.command("STAT").hasPrefix("+OK 0 0"))
        XCTAssertTrue(try client.command("QUIT").hasPrefix("+OK"))
        let outsider = try MailboxAddress(mailbox: accounts.outsider, domain: NodeFixture.domain)
        try node.store.createMailbox(outsider, password: nil, allowAPOP: false, quota: nil)
        let refused = try node.client()
        _ = try refused.readLine()
        XCTAssertTrue(try refused.command("USER \(outsider)").hasPrefix("+OK"))
        let reply = try refused.command("PASS \(accounts.password)")
        XCTAssertTrue(reply.hasPrefix("-ERR [AUTH]"), reply)
    }
}
