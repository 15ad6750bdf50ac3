import NIOConcurrencyHelpers
import POP3Core
import SharedStore
import XCTest

@testable import Node

/// The seam between a login and the account directory: what each verdict becomes, the domain checked first, and
/// external mailboxes (no password record) open only through a directory.
final class AuthBackendSeamTests: XCTestCase {
    /// A directory answering a fixed verdict, counting the calls (the seam's own unit test; the real directories,
    /// slapd and PAM, are tested in their own suites).
    final class FixedDirectory: AuthBackend {
        let verdict: AuthVerdict
        let calls = NIOLockedValueBox(0)
        let burned = NIOLockedValueBox(0)
        init(_ verdict: AuthVerdict) { self.verdict = verdict }
        var name: String { "fixed" }
        var supportsSharedSecrets: Bool { false }
        func verify(_ credentials: POP3Credentials, address: MailboxAddress) -> AuthVerdict {
            calls.withLockedValue { $0 += 1 }
            return verdict
        }
        func burnEquivalentWork(_ credentials: POP3Credentials) { burned.withLockedValue { $0 += 1 } }
        func lookupAccount(_ address: MailboxAddress) -> AccountLookup {
            switch verdict {
            case .accepted: return .exists
            case .rejected: return .unknown
            case .unavailable(let why): return .unavailable(why)
            }
        }
    }

    var fixture: NodeFixture!

    override func setUp() async throws {
        fixture = try NodeFixture()
    }

    override func tearDown() async throws {
        await fixture.stop()
    }

    func login(_ backend: any AuthBackend, _ user: String, _ password: String = "pw") -> Authenticator.Result {
        Authenticator(store: fixture.store, nodeID: "t", backend: backend).authenticate(.password(user: user, password: password), sessionID: "s1")
    }

    func testVerdictsBecomeTheirAnswers() throws {
        let address = try MailboxAddress(mailbox: "ext", domain: NodeFixture.domain)
        try fixture.store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
        let accepted = login(FixedDirectory(.accepted), "ext@\(NodeFixture.domain)")
        guard case .success = accepted.outcome else { return XCTFail("\(accepted.outcome)") }
        try accepted.session?.release()
        XCTAssertEqual(login(FixedDirectory(.rejected), "ext@\(NodeFixture.domain)").outcome, .badCredentials)
        let down = login(FixedDirectory(.unavailable("ldap://x: connection refused")), "ext@\(NodeFixture.domain)")
        XCTAssertEqual(down.outcome, .temporaryFailure("account directory unavailable, try again later"), "never a wrong password")
        XCTAssertEqual(down.label, "temporary")
        XCTAssertEqual(try fixture.store.lockState(address), .free, "nothing held after a refusal")
    }

    // auth.autocreate: the first successful login of a directory account makes its (external) mailbox.
    func testAutocreateOnFirstLogin() throws {
        let address = try MailboxAddress(mailbox: "newcomer", domain: NodeFixture.domain)
        let without = Authenticator(store: fixture.store, nodeID: "t", backend: FixedDirectory(.accepted))
        XCTAssertEqual(without.authenticate(.password(user: address.description, password: "pw"), sessionID: "s0").outcome, .badCredentials)
        XCTAssertFalse(try fixture.store.mailboxExists(address))
        let with = Authenticator(store: fixture.store, nodeID: "t", backend: FixedDirectory(.accepted), autocreate: true)
        let result = with.authenticate(.password(user: address.description, password: "pw"), sessionID: "s1")
        guard case .success = result.outcome else { return XCTFail("\(result.outcome)") }
        try result.session?.release()
        XCTAssertTrue(try fixture.store.isExternalMailbox(address))
        // A refused login creates nothing.
        let refused = try MailboxAddress(mailbox: "intruder", domain: NodeFixture.domain)
        let rejecting = Authenticator(store: fixture.store, nodeID: "t", backend: FixedDirectory(.rejected), autocreate: true)
        XCTAssertEqual(rejecting.authenticate(.password(user: refused.description, password: "x"), sessionID: "s2").outcome, .badCredentials)
        XCTAssertFalse(try fixture.store.mailboxExists(refused))
    }

    func testADomainNotAcceptedNeverReachesTheDirectory() {
        let directory = FixedDirectory(.accepted)
        XCTAssertEqual(login(directory, "ext@elsewhere.test").outcome, .badCredentials)
        XCTAssertEqual(login(directory, "not an address").outcome, .badCredentials)
        XCTAssertEqual(directory.calls.withLockedValue { $0 }, 0)
        XCTAssertEqual(directory.burned.withLockedValue { $0 }, 2, "the same work is done as for a real check")
    }

    func testAnAccountWithoutAMailboxIsRefused() {
        XCTAssertEqual(login(FixedDirectory(.accepted), "nobody@\(NodeFixture.domain)").outcome, .badCredentials)
    }

    func testThePasswordFileNeverOpensAnExternalMailbox() throws {
        let address = try MailboxAddress(mailbox: "ext", domain: NodeFixture.domain)
        try fixture.store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
        XCTAssertFalse(try fixture.store.mailboxInfo(address).hasPassword)
        let passwd = PasswdBackend(store: fixture.store, cache: LoginCache(ttl: .minutes(1), capacity: 10))
        XCTAssertEqual(passwd.verify(.password(user: "\(address)", password: ""), address: address), .rejected)
        XCTAssertEqual(passwd.verify(.password(user: "\(address)", password: "anything"), address: address), .rejected)
    }
}
