import XCTest

@testable import Node

/// RFC 4515 escaping, %u/%l substitution and the ad preset's DN comparison: pure, no directory.
final class LDAPFilterTests: XCTestCase {
    func testTheFiveSpecialCharactersAreEscaped() {
        XCTAssertEqual(LDAPFilter.escape("*"), "\\2a")
        XCTAssertEqual(LDAPFilter.escape("("), "\\28")
        XCTAssertEqual(LDAPFilter.escape(")"), "\\29")
        XCTAssertEqual(LDAPFilter.escape("\\"), "\\5c")
        XCTAssertEqual(LDAPFilter.escape("\u{0}"), "\\00")
        XCTAssertEqual(LDAPFilter.escape("*)(uid=*"), "\\2a\\29\\28uid=\\2a")
        XCTAssertEqual(LDAPFilter.escape("a\u{1}b\u{7f}"), "a\\01b\\7f", "control characters too")
    }

    func testOrdinaryNamesAreUnchanged() {
        XCTAssertEqual(LDAPFilter.escape("alice@poplar.test"), "alice@poplar.test")
        XCTAssertEqual(LDAPFilter.escape("jürgen.müller@bücher.test"), "jürgen.müller@bücher.test", "UTF-8 is a valid value")
        XCTAssertEqual(LDAPFilter.escape(""), "")
    }

    func testSubstitutionEscapesBothPlaceholdersInOnePass() {
        XCTAssertEqual(LDAPFilter.substitute("(mail=%u)", login: "a*@poplar.test", localPart: "a*"), "(mail=a\\2a@poplar.test)")
        XCTAssertEqual(LDAPFilter.substitute(LDAPSettings.adFilter, login: "*)(uid=*", localPart: "x"),
                       "(|(userPrincipalName=\\2a\\29\\28uid=\\2a)(sAMAccountName=x))")
        XCTAssertEqual(LDAPFilter.substitute("(uid=%l)", login: "u", localPart: "%u"), "(uid=%u)", "a substituted value is not substituted again")
        XCTAssertEqual(LDAPFilter.substitute("(a=%x%)", login: "u", localPart: "l"), "(a=%x%)", "other percent signs stay")
    }

    func testMembershipFilterEscapesTheDN() {
        XCTAssertEqual(LDAPFilter.membership(of: "cn=Smith\\, Dave,dc=x"),
                       "(|(member=cn=Smith\\5c, Dave,dc=x)(uniqueMember=cn=Smith\\5c, Dave,dc=x))")
    }

    func testMemberOfIsComparedCaseInsensitively() {
        let group = "CN=POP3 Users,OU=Groups,DC=corp,DC=test"
        XCTAssertTrue(LDAPDistinguishedName.contains(["cn=Other,dc=corp,dc=test", "cn=pop3 users,ou=groups,dc=corp,dc=test"], group))
        XCTAssertTrue(LDAPDistinguishedName.contains(["cn=POP3 Users, ou=Groups, dc=corp, dc=test"], group), "spaces after commas")
        XCTAssertFalse(LDAPDistinguishedName.contains(["cn=POP3 Users,ou=Groups,dc=corp,dc=test,dc=evil"], group))
        XCTAssertFalse(LDAPDistinguishedName.contains(["cn=POP3 Users\\,ou=Groups,dc=corp,dc=test"], "cn=POP3 Users,ou=Groups\\,dc=corp,dc=test"),
                       "an escaped comma is part of a value")
        XCTAssertFalse(LDAPDistinguishedName.contains([], group))
    }
}
