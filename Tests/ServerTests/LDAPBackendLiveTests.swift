import NIOCore
import POP3Core
import SharedStore
import XCTest

@testable import Node

/// The LDAP backend against a real slapd (SlapdFixture): searches, binds, the group gate for both presets,
/// filter injection, TLS with certificate verification, a directory that goes away and comes back.
final class LDAPBackendLiveTests: XCTestCase {
    static let timeout: TimeAmount = .seconds(2)
    var slapd: SlapdFixture!
    var passwordFile: String!

    override func setUpWithError() throws {
        slapd = try SlapdFixture()
        passwordFile = slapd.directory + "/service.pw"
        try (SlapdFixture.servicePassword + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        slapd?.remove()
    }

    func settings(uri: String? = nil, filter: String? = nil, caFile: String? = nil, startTLS: Bool = false,
                  group: String? = SlapdFixture.groupDN, preset: LDAPSettings.Preset = .openldap) -> LDAPSettings {
        LDAPSettings(uri: uri ?? slapd.uri, base: SlapdFixture.suffix, filter: filter, bindDN: SlapdFixture.serviceDN,
                     bindPasswordFile: passwordFile, caFile: caFile, startTLS: startTLS, groupDN: group, preset: preset)
    }

    func backend(_ s: LDAPSettings? = nil, timeout: TimeAmount = LDAPBackendLiveTests.timeout) throws -> LDAPBackend {
        try LDAPBackend(settings: s ?? settings(), timeout: timeout)
    }

    func verify(_ b: LDAPBackend, _ user: String, _ password: String) throws -> AuthVerdict {
        b.verify(.password(user: user, password: password), address: try MailboxAddress(parsing: user))
    }

    func isUnavailable(_ verdict: AuthVerdict) -> Bool {
        if case .unavailable = verdict { return true }
        return false
    }

    func testRightPasswordIsAcceptedWrongRejected() throws {
        let b = try backend()
        XCTAssertEqual(try verify(b, "alice@poplar.test", "alicepw"), .accepted)
        XCTAssertEqual(try verify(b, "alice@poplar.test", "wrong"), .rejected)
        XCTAssertEqual(try verify(b, "nobody@poplar.test", "alicepw"), .rejected, "no entry")
        XCTAssertEqual(try verify(b, "dup@poplar.test", "carolpw"), .rejected, "two entries: never a login")
        XCTAssertEqual(try verify(b, "nopw@poplar.test", "anything"), .rejected, "an entry without a password")
        XCTAssertEqual(try verify(b, "dave@poplar.test", "davepw"), .accepted, "a DN with an escaped comma, found in the group")
    }

    func testOutsideTheGroupIsRejected() throws {
        XCTAssertEqual(try verify(try backend(), "bob@poplar.test", "bobpw"), .rejected)
        XCTAssertEqual(try verify(try backend(settings(group: nil)), "bob@poplar.test", "bobpw"), .accepted, "no group: any account found")
        let missing = try backend(settings(group: "cn=Nope,ou=groups,\(SlapdFixture.suffix)"))
        XCTAssertTrue(isUnavailable(try verify(missing, "alice@poplar.test", "alicepw")), "a group that is not there is a misconfiguration")
    }

    func testEmptyPasswordIsRefusedBeforeAnyDirectoryCall() throws {
        let b = try backend()
        XCTAssertEqual(try verify(b, "alice@poplar.test", "alicepw"), .accepted)
        let binds = slapd.bindLines("uid=alice,").count, searches = slapd.logCount(" SRCH base=")
        XCTAssertEqual(try verify(b, "alice@poplar.test", ""), .rejected)
        XCTAssertEqual(slapd.bindLines("uid=alice,").count, binds, "no bind was attempted")
        XCTAssertEqual(slapd.logCount(" SRCH base="), searches, "not even a search")
        // What slapd does with an unauthenticated bind (a DN, no password) is beside the point: it is never asked.
        XCTAssertEqual(try verify(b, "alice@poplar.test", "alicepw"), .accepted)
        XCTAssertEqual(slapd.bindLines("uid=alice,").count, binds + 1)
    }

    func testSharedSecretMechanismsAreRejected() throws {
        let b = try backend()
        XCTAssertFalse(b.supportsSharedSecrets)
        let address = try MailboxAddress(parsing: "alice@poplar.test")
        XCTAssertEqual(b.verify(.apop(user: "alice@poplar.test", digest: "00", timestamp: "<1@x>"), address: address), .rejected)
        XCTAssertEqual(b.verify(.cramMD5(user: "alice@poplar.test", digest: "00", challenge: "<1@x>"), address: address), .rejected)
    }

    func testFilterInjectionFindsNothingAndTheFilterSentIsEscaped() throws {
        let b = try backend()
        // Unescaped, (mail=alice*) would find alice and her password would open the mailbox.
        XCTAssertEqual(b.verify(login: "alice*", localPart: "alice*", password: "alicepw"), .rejected)
        XCTAssertEqual(b.verify(login: "a*@poplar.test", localPart: "a*", password: "alicepw"), .rejected)
        XCTAssertEqual(b.verify(login: "*)(uid=*", localPart: "*)(uid=*", password: "alicepw"), .rejected)
        XCTAssertEqual(b.verify(login: "*", localPart: "*", password: "alicepw"), .rejected)
        XCTAssertEqual(slapd.logCount("filter=\"(mail=alice\\2A)\""), 1, slapd.log(tail: 30))
        XCTAssertEqual(slapd.logCount("filter=\"(mail=a\\2A@poplar.test)\""), 1)
        XCTAssertEqual(slapd.logCount("filter=\"(mail=\\2A\\29\\28uid=\\2A)\""), 1)
        XCTAssertEqual(slapd.bindLines("uid=alice,").count, 0, "no account was found, so none was bound")
    }

    func testTheAdPresetReadsMemberOf() throws {
        // The memberof overlay keeps memberOf on the accounts as Active Directory does; the default ad filter
        // matches userPrincipalName (%u) or sAMAccountName (%l). The group is named in another case.
        let group = "CN=POP3 Users,OU=Groups,DC=poplar,DC=test"
        let b = try backend(settings(group: group, preset: .ad))
        XCTAssertEqual(b.settings.filter, LDAPSettings.adFilter)
        XCTAssertEqual(try verify(b, "alice@poplar.test", "alicepw"), .accepted)
        XCTAssertEqual(b.verify(login: "alice@elsewhere.test", localPart: "alice", password: "alicepw"), .accepted, "by sAMAccountName")
        XCTAssertEqual(try verify(b, "alice@poplar.test", "wrong"), .rejected)
        XCTAssertEqual(try verify(b, "bob@poplar.test", "bobpw"), .rejected, "no memberOf naming the group")
        XCTAssertEqual(slapd.logCount("SRCH attr=memberOf"), 4)
        XCTAssertEqual(slapd.bindLines("uid=bob,").count, 0, "outside the group: no bind")
    }

    func testLDAPSAndStartTLSVerifyTheCertificate() throws {
        XCTAssertEqual(try verify(try backend(settings(uri: slapd.tlsURI, caFile: slapd.caFile)), "alice@poplar.test", "alicepw"), .accepted)
        XCTAssertEqual(try verify(try backend(settings(caFile: slapd.caFile, startTLS: true)), "alice@poplar.test", "alicepw"), .accepted)
        let binds = slapd.bindLines("uid=alice,")
        XCTAssertEqual(binds.count, 2)
        XCTAssertTrue(binds.allSatisfy { !$0.hasSuffix(" ssf=0") }, "both over TLS: \(binds)")

        let wrongCA = try verify(try backend(settings(uri: slapd.tlsURI, caFile: slapd.otherCAFile)), "alice@poplar.test", "alicepw")
        XCTAssertTrue(isUnavailable(wrongCA), "\(wrongCA)")
        let noCA = try verify(try backend(settings(uri: slapd.tlsURI)), "alice@poplar.test", "alicepw")
        XCTAssertTrue(isUnavailable(noCA), "the system's CAs did not sign it: \(noCA)")
        let startTLSWrongCA = try verify(try backend(settings(caFile: slapd.otherCAFile, startTLS: true)), "alice@poplar.test", "alicepw")
        XCTAssertTrue(isUnavailable(startTLSWrongCA), "\(startTLSWrongCA)")
        // By a name the certificate does not hold (it names 127.0.0.1 only): the host name is checked too.
        let wrongName = try verify(try backend(settings(uri: "ldaps://localhost:\(slapd.tlsPort)", caFile: slapd.caFile)), "alice@poplar.test", "alicepw")
        XCTAssertTrue(isUnavailable(wrongName), "\(wrongName)")
    }

    // For deliveries and auth.autocreate: the search and the group gate, without a bind.
    func testAccountLookup() throws {
        let b = try backend()
        XCTAssertEqual(b.lookupAccount(try MailboxAddress(parsing: "alice@poplar.test")), .exists)
        XCTAssertEqual(b.lookupAccount(try MailboxAddress(parsing: "bob@poplar.test")), .unknown, "outside the group")
        XCTAssertEqual(b.lookupAccount(try MailboxAddress(parsing: "nobody@poplar.test")), .unknown)
        XCTAssertEqual(b.lookupAccount(try MailboxAddress(parsing: "dup@poplar.test")), .unknown, "two entries")
        slapd.stop()
        guard case .unavailable = b.lookupAccount(try MailboxAddress(parsing: "alice@poplar.test")) else {
            return XCTFail("a directory that is down is unavailable, never unknown")
        }
        try slapd.start()
        XCTAssertEqual(b.lookupAccount(try MailboxAddress(parsing: "alice@poplar.test")), .exists)
    }

    func testADirectoryThatGoesAwayIsUnavailableThenRecovers() throws {
        let b = try backend()
        XCTAssertEqual(try verify(b, "alice@poplar.test", "alicepw"), .accepted)
        slapd.stop()
        let down = try verify(b, "alice@poplar.test", "alicepw")
        XCTAssertTrue(isUnavailable(down), "never a wrong password: \(down)")
        XCTAssertEqual(try verify(b, "alice@poplar.test", "wrong").isRejected, false, "down: not rejected either")
        try slapd.start()
        XCTAssertEqual(try verify(b, "alice@poplar.test", "alicepw"), .accepted, "new connections once it is back")
        XCTAssertEqual(try verify(b, "alice@poplar.test", "wrong"), .rejected)
    }

    func testAHungDirectoryTimesOut() throws {
        let b = try backend(timeout: .seconds(1))
        XCTAssertEqual(try verify(b, "alice@poplar.test", "alicepw"), .accepted)
        slapd.pause()
        defer { slapd.resume() }
        let start = Date()
        let hung = try verify(b, "alice@poplar.test", "alicepw")
        let took = Date().timeIntervalSince(start)
        XCTAssertTrue(isUnavailable(hung), "\(hung)")
        XCTAssertLessThan(took, 5, "bounded by the timeout")
        slapd.resume()
        XCTAssertEqual(try verify(b, "alice@poplar.test", "alicepw"), .accepted)
    }

    func testConfigurationErrorsStopTheStart() throws {
        var s = settings()
        s.bindPasswordFile = slapd.directory + "/missing"
        XCTAssertThrowsError(try backend(s))
        try "\n".write(toFile: slapd.directory + "/empty.pw", atomically: true, encoding: .utf8)
        s.bindPasswordFile = slapd.directory + "/empty.pw"
        XCTAssertThrowsError(try backend(s), "an empty service password would be an unauthenticated bind")
        XCTAssertThrowsError(try backend(settings(uri: "ldap://[bad")))
        XCTAssertThrowsError(try backend(settings(uri: slapd.tlsURI, caFile: slapd.directory + "/missing.pem")))
        var anonymous = settings()
        anonymous.bindDN = nil
        anonymous.bindPasswordFile = nil
        XCTAssertEqual(try verify(try backend(anonymous), "alice@poplar.test", "alicepw"), .accepted, "an anonymous search")
        var wrongService = settings()
        try "nope\n".write(toFile: slapd.directory + "/wrong.pw", atomically: true, encoding: .utf8)
        wrongService.bindPasswordFile = slapd.directory + "/wrong.pw"
        XCTAssertTrue(isUnavailable(try verify(try backend(wrongService), "alice@poplar.test", "alicepw")), "the service account's bind failed")
    }

    func testTheFactoryMakesIt() async throws {
        let c = AuthConfiguration(method: .ldap(settings()), timeout: .seconds(3))
        let fixture = try NodeFixture()
        let made = try AuthBackends.make(c, store: fixture.store, cache: LoginCache(ttl: .minutes(1), capacity: 1))
        XCTAssertEqual(made.name, "ldap")
        try fixture.store.addDomain("poplar.test")
        let address = try MailboxAddress(parsing: "alice@poplar.test")
        try fixture.store.createMailbox(address, password: nil, allowAPOP: false, quota: nil)
        let authenticator = Authenticator(store: fixture.store, nodeID: "t", backend: made)
        let result = authenticator.authenticate(.password(user: "alice@poplar.test", password: "alicepw"), sessionID: "s")
        guard case .success = result.outcome else { return XCTFail("\(result.outcome)") }
        try result.session?.release()
        XCTAssertEqual(authenticator.authenticate(.password(user: "alice@poplar.test", password: "bobpw"), sessionID: "s").outcome, .badCredentials)
        XCTAssertEqual(authenticator.authenticate(.password(user: "*)(uid=*@poplar.test", password: "alicepw"), sessionID: "s").outcome, .badCredentials)
        await fixture.stop()
    }
}

extension AuthVerdict {
    var isRejected: Bool { self == .rejected }
}
