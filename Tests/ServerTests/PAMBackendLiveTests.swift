import Foundation
import Logging
import NIOCore
import POP3Core
import SharedStore
import XCTest

@testable import Node

/// The PAM directory against real system accounts and real PAM (pam_unix reading /etc/shadow): no mocks. Needs root
/// (CI runs as root); each test makes its own users, group and PAM service files (PAMFixture) and removes them.
final class PAMBackendLiveTests: XCTestCase {
    var accounts: PAMFixture!
    static let domain = "example.test"
    /// Long enough for pam_unix's failure delay (about 2 s) on a busy machine.
    static let timeout: TimeAmount = .seconds(15)

    override func setUpWithError() throws {
        if let why = PAMFixture.unavailableReason { throw XCTSkip(why) }
        accounts = try PAMFixture()
    }

    override func tearDown() {
        accounts?.remove()
        accounts = nil
    }

    func backend(service: String? = nil, group: String?? = .none, timeout: TimeAmount = PAMBackendLiveTests.timeout,
                 maxStuck: Int = PAMBackend.defaultMaxStuckTransactions) -> PAMBackend {
        let group: String? = group ?? accounts.group
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        return PAMBackend(settings: PAMSettings(service: service ?? accounts.service, group: group), timeout: timeout,
                          maxStuckTransactions: maxStuck, logger: quiet)
    }

    func verify(_ backend: PAMBackend, _ user: String, _ password: String? = nil) throws -> AuthVerdict {
        let address = try MailboxAddress(mailbox: user, domain: Self.domain)
        return backend.verify(.password(user: "\(address)", password: password ?? accounts.password), address: address)
    }

    func testTheRightPasswordIsAccepted() throws {
        let pam = backend()
        XCTAssertNoThrow(try pam.checkConfiguration())
        XCTAssertEqual(try verify(pam, accounts.member), .accepted)
        XCTAssertEqual(pam.transactionsStarted, 1)
    }

    // For deliveries and auth.autocreate: the Unix account and the group, without PAM.
    func testAccountLookup() throws {
        let pam = backend()
        XCTAssertEqual(pam.lookupAccount(try MailboxAddress(mailbox: accounts.member, domain: Self.domain)), .exists)
        XCTAssertEqual(pam.lookupAccount(try MailboxAddress(mailbox: accounts.outsider, domain: Self.domain)), .unknown)
        XCTAssertEqual(pam.lookupAccount(try MailboxAddress(mailbox: accounts.unknown, domain: Self.domain)), .unknown)
        XCTAssertEqual(backend(group: .some(nil)).lookupAccount(try MailboxAddress(mailbox: accounts.outsider, domain: Self.domain)), .exists)
        XCTAssertEqual(pam.transactionsStarted, 0, "no PAM transaction for a lookup")
    }

    func testAWrongPasswordIsRejected() throws {
        XCTAssertEqual(try verify(backend(), accounts.member, "not the password"), .rejected)
        XCTAssertEqual(try verify(backend(), accounts.member, accounts.password + "x"), .rejected)
    }

    func testAnUnknownAccountIsRejected() throws {
        XCTAssertEqual(try verify(backend(group: .some(nil)), accounts.unknown), .rejected)
    }

    func testAnAccountOutsideTheGroupIsRejected() throws {
        XCTAssertEqual(try verify(backend(), accounts.outsider), .rejected)
        XCTAssertEqual(try verify(backend(group: .some(nil)), accounts.outsider), .accepted, "without a group every account PAM accepts")
    }

    func testAnEmptyPasswordIsRejectedWithoutAskingPAM() throws {
        let pam = backend()
        XCTAssertEqual(try verify(pam, accounts.member, ""), .rejected)
        XCTAssertEqual(try verify(pam, accounts.member, "pass\0word"), .rejected, "a C string cannot carry a NUL")
        XCTAssertEqual(try verify(pam, accounts.member, String(repeating: "p", count: PAMBackend.maxPasswordBytes + 1)), .rejected)
        XCTAssertEqual(pam.transactionsStarted, 0)
    }

    func testALockedAccountIsRejected() throws {
        XCTAssertEqual(try verify(backend(), accounts.locked), .rejected)
    }

    func testAnExpiredAccountIsRejected() throws {
        XCTAssertEqual(try verify(backend(), accounts.expired), .rejected)
    }

    /// PAM_NEW_AUTHTOK_REQD from pam_acct_mgmt: POP3 cannot change a password, so the login is refused.
    func testAnAccountThatMustChangeItsPasswordIsRejected() throws {
        XCTAssertEqual(try verify(backend(), accounts.mustChange), .rejected)
    }

    /// Linux-PAM would use /etc/pam.d/other, which on Debian includes common-auth and common-account (pam_unix):
    /// the right password would pass. Poplar never asks PAM about a service without its own file.
    func testAServiceWithoutItsOwnFileIsUnavailableNeverAccepted() throws {
        let pam = backend(service: accounts.missingService)
        let verdict = try verify(pam, accounts.member)
        guard case .unavailable(let why) = verdict else { return XCTFail("\(verdict)") }
        XCTAssertTrue(why.contains("/etc/pam.d/\(accounts.missingService)"), why)
        XCTAssertEqual(pam.transactionsStarted, 0)
        XCTAssertThrowsError(try pam.checkConfiguration()) {
            XCTAssertTrue("\($0)".contains("has no configuration file"), "\($0)")
        }
    }

    func testAGroupThatDoesNotExistIsUnavailable() throws {
        let missing = "pnog_\(accounts.suffix)"
        let pam = backend(group: .some(missing))
        XCTAssertEqual(try verify(pam, accounts.member), .unavailable("group \(missing) does not exist"))
        XCTAssertEqual(try verify(pam, accounts.member, "wrong"), .unavailable("group \(missing) does not exist"))
        XCTAssertThrowsError(try pam.checkConfiguration())
    }

    func testNamesThatAreNotUnixNamesNeverReachPAM() throws {
        let pam = backend()
        for name in ["9lives", "-bob", "bob~smith", "émile", "b\u{0301}ob", String(repeating: "a", count: UnixUserName.maxLength + 1)] {
            XCTAssertEqual(try verify(pam, name), .rejected, name)
        }
        XCTAssertEqual(pam.transactionsStarted, 0)
        XCTAssertTrue(UnixUserName.isValid(String(repeating: "a", count: UnixUserName.maxLength)))
        XCTAssertTrue(UnixUserName.isValid("_svc-1"))
    }

    func testAPOPAndCRAMMD5AreRejected() throws {
        let pam = backend()
        let address = try MailboxAddress(mailbox: accounts.member, domain: Self.domain)
        XCTAssertFalse(pam.supportsSharedSecrets)
        XCTAssertEqual(pam.verify(.apop(user: "\(address)", digest: String(repeating: "0", count: 32), timestamp: "<1@x>"), address: address), .rejected)
        XCTAssertEqual(pam.verify(.cramMD5(user: "\(address)", digest: String(repeating: "0", count: 32), challenge: "<1@x>"), address: address), .rejected)
        XCTAssertEqual(pam.transactionsStarted, 0)
    }

    func testLoginsInParallelEachGetTheirOwnAnswer() throws {
        let pam = backend()
        let logins: [(String, String, AuthVerdict)] = [
            (accounts.member, accounts.password, .accepted), (accounts.member, "wrong", .rejected),
            (accounts.outsider, accounts.password, .rejected), (accounts.member, accounts.password, .accepted),
        ]
        let requests = try logins.map { user, password, _ in
            let address = try MailboxAddress(mailbox: user, domain: Self.domain)
            return (address, POP3Credentials.password(user: "\(address)", password: password))
        }
        let answers = ParallelAnswers(count: logins.count)
        DispatchQueue.concurrentPerform(iterations: requests.count) { i in
            answers.set(i, pam.verify(requests[i].1, address: requests[i].0))
        }
        XCTAssertEqual(answers.all, logins.map(\.2))
    }

    /// A module that hangs (pam_exec running sleep) costs the login its timeout, then `unavailable`; the thread is
    /// left to finish, and while too many are stuck new logins are refused at once.
    func testAHungModuleTimesOutAndStuckThreadsAreBounded() throws {
        guard PAMFixture.hasPAMExec else { throw XCTSkip("pam_exec.so is not installed") }
        let pam = backend(service: accounts.slowService, timeout: .seconds(1), maxStuck: 1)
        var start = Date()
        XCTAssertEqual(try verify(pam, accounts.member), .unavailable("timed out"))
        XCTAssertLessThan(Date().timeIntervalSince(start), Double(PAMFixture.slowModuleSeconds) - 1)
        XCTAssertEqual(pam.stuckTransactions, 1)
        start = Date()
        let refused = try verify(pam, accounts.member)
        guard case .unavailable(let why) = refused, why.contains("still running") else { return XCTFail("\(refused)") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, "refused without waiting")
        XCTAssertEqual(pam.transactionsStarted, 1)
        let deadline = Date().addingTimeInterval(Double(PAMFixture.slowModuleSeconds) * 3)
        while pam.stuckTransactions > 0 && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(pam.stuckTransactions, 0, "the stuck thread finished on its own")
    }
}

/// Answers written from concurrentPerform's threads.
final class ParallelAnswers: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [AuthVerdict?]
    init(count: Int) { answers = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ verdict: AuthVerdict) { lock.withLock { answers[i] = verdict } }
    var all: [AuthVerdict] { lock.withLock { answers.map { $0 ?? .unavailable("no answer") } } }
}
