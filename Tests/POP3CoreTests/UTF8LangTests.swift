import XCTest

@testable import POP3Core

/// RFC 6856 (POP3 support for UTF-8), clause by clause: the UTF8 and LANG capabilities (§2, §3), the UTF8 command
/// and the preparation of user names and passwords it turns on (§2 with RFC 8265 §3.4 and §4.2), the LANG command
/// (§3 with RFC 4647's lookup), and the PRECIS profiles against RFC 8265 §4.3's examples.
final class UTF8LangTests: XCTestCase {
    let twoMessages = [POP3Message(uidl: "00000000000000000000000001", size: 120), POP3Message(uidl: "00000000000000000000000002", size: 200)]

    func machine(_ configure: (inout POP3SessionConfiguration) -> Void = { _ in }) -> POP3SessionStateMachine {
        var c = POP3SessionConfiguration(apopTimestamp: "<1896.697170952@dbc.mtview.ca.us>", tlsAvailable: true)
        configure(&c)
        var m = POP3SessionStateMachine(configuration: c)
        _ = m.start()
        return m
    }

    func send(_ m: inout POP3SessionStateMachine, _ line: String) -> POP3Action { m.receive(line: Array(line.utf8)) }

    func loggedIn() -> POP3SessionStateMachine {
        var m = machine()
        _ = send(&m, "USER alice")
        _ = send(&m, "PASS pw")
        _ = m.authenticationCompleted(.success(mailbox: "alice@example.test", messages: twoMessages))
        return m
    }

    func plain(_ authzid: String, _ authcid: String, _ password: String) -> String {
        "AUTH PLAIN " + SASLCodec.encode(Array((authzid + "\u{0}" + authcid + "\u{0}" + password).utf8))
    }

    func capabilities(_ a: POP3Action) -> [String] {
        guard case .send(.multiline(_, let lines)) = a else { XCTFail("no CAPA list: \(a)"); return [] }
        return lines
    }

    // MARK: §2, §3: the capabilities

    // §2 "UTF8" with the USER argument and §3 "LANG", announced in both states (RFC 2449 §5), with or without
    // plaintext USER on the connection.
    func testCAPAListsUTF8AndLANGInBothStates() {
        var m = machine()
        XCTAssertTrue(capabilities(send(&m, "CAPA")).contains("UTF8 USER"))
        XCTAssertTrue(capabilities(send(&m, "CAPA")).contains("LANG"))
        var strict = machine { $0.plaintextAllowedWithoutTLS = false }
        XCTAssertTrue(capabilities(send(&strict, "CAPA")).contains("UTF8 USER"))
        var t = loggedIn()
        let after = capabilities(send(&t, "CAPA"))
        XCTAssertTrue(after.contains("UTF8 USER"))
        XCTAssertTrue(after.contains("LANG"))
        XCTAssertEqual(Array(POP3Capabilities.always.suffix(2)), ["UTF8 USER", "LANG"])
    }

    // MARK: §2: the UTF8 command

    // §2: UTF8 has no argument, is answered +OK in AUTHORIZATION; a second one changes nothing.
    func testUTF8InAuthorization() {
        var m = machine()
        XCTAssertFalse(m.isUTF8)
        XCTAssertEqual(send(&m, "UTF8"), .send(.ok("UTF-8 mode enabled")))
        XCTAssertTrue(m.isUTF8)
        XCTAssertEqual(send(&m, "utf8"), .send(.ok("UTF-8 mode enabled")))
        XCTAssertEqual(POP3CommandParser.parse(Array("UTF8 x".utf8)), .failure(.syntax(command: "UTF8", reason: "UTF8 takes no argument")))
    }

    // §2 "Commands valid in states: AUTHORIZATION": UTF8 after login is refused (a bad command), the session goes on.
    func testUTF8AfterLoginRefused() {
        var m = loggedIn()
        XCTAssertEqual(send(&m, "UTF8"), .send(.err(nil, "UTF8 is not valid after login")))
        XCTAssertFalse(m.isUTF8)
        XCTAssertEqual(m.phase, .transaction)
        XCTAssertEqual(send(&m, "STAT"), .send(.ok("2 320")))
    }

    // §2 with RFC 8265 §3.4.2 and §4.2.2: after UTF8, USER takes a UTF-8 name, width-mapped and NFC ("ｊｏｓé" with a
    // combining accent is "josé"), and PASS a password with non-ASCII spaces mapped to U+0020 and NFC applied, and
    // fullwidth digits kept (§4.2.2 rule 1: "MUST NOT be mapped").
    func testUTF8UserPassReachAuthenticatePrepared() {
        var m = machine()
        _ = send(&m, "UTF8")
        XCTAssertEqual(send(&m, "USER \u{FF4A}\u{FF4F}\u{FF53}e\u{301}@example.test"), .send(.ok("send PASS")))
        XCTAssertEqual(send(&m, "PASS caf\u{65}\u{301}\u{3000}pa\u{DF}\u{1680}\u{FF11}\u{FF12}"),
                       .authenticate(.password(user: "jos\u{E9}@example.test", password: "caf\u{E9} pa\u{DF} \u{FF11}\u{FF12}")))
        XCTAssertEqual(m.authenticationCompleted(.success(mailbox: "jos\u{E9}@example.test", messages: twoMessages)),
                       .send(.ok("jos\u{E9}@example.test has 2 messages (320 octets)")))
    }

    // §2: the same through AUTH PLAIN (RFC 4616 carries UTF-8) and AUTH LOGIN; an authzid is compared after preparation.
    func testUTF8AuthPlainAndLoginPrepared() {
        var m = machine()
        _ = send(&m, "UTF8")
        XCTAssertEqual(send(&m, plain("\u{FF41}lice", "alice", "pa\u{A0}ss")), .authenticate(.password(user: "alice", password: "pa ss")))
        var l = machine()
        _ = send(&l, "UTF8")
        XCTAssertEqual(send(&l, "AUTH LOGIN"), .send(.continuation(SASLCodec.encode("Username:"))))
        XCTAssertEqual(send(&l, SASLCodec.encode(Array("\u{FF42}ob".utf8))), .send(.continuation(SASLCodec.encode("Password:"))))
        XCTAssertEqual(send(&l, SASLCodec.encode(Array("A\u{30A}".utf8))), .authenticate(.password(user: "bob", password: "\u{C5}")))
    }

    // §2 (RFC 3629) and RFC 8265: after UTF8 a line that is not UTF-8 is refused, and so is a password the profile
    // refuses (a C1 control, a zero-width joiner), or a name with a space; each is a bad command and cancels the USER.
    func testUTF8RefusesWhatTheProfilesRefuse() {
        var m = machine()
        _ = send(&m, "UTF8")
        XCTAssertEqual(m.receive(line: Array("USER ".utf8) + [0xC3, 0x28]), .send(.err(nil, "invalid UTF-8")))
        _ = send(&m, "USER alice")
        XCTAssertEqual(m.receive(line: Array("PASS ".utf8) + [0xC0, 0xAF]), .send(.err(nil, "invalid UTF-8")), "overlong encoding")
        XCTAssertEqual(send(&m, "PASS pw"), .send(.err(nil, "PASS must follow USER")), "the bad line cancelled the USER")
        _ = send(&m, "USER alice")
        XCTAssertEqual(send(&m, "PASS a\u{85}b"), .send(.err(.auth, "user name or password has characters that are not allowed")))
        _ = send(&m, "USER alice")
        XCTAssertEqual(send(&m, "PASS a\u{200D}b"), .send(.err(.auth, "user name or password has characters that are not allowed")))
        XCTAssertEqual(send(&m, plain("", "al ice", "pw")), .send(.err(.auth, "user name or password has characters that are not allowed")))
        XCTAssertEqual(send(&m, plain("", "alice", "")), .send(.err(.auth, "user name or password has characters that are not allowed")))
        XCTAssertEqual(send(&m, "AUTH PLAIN " + SASLCodec.encode([0, 0x61, 0, 0xFF])), .send(.err(nil, "invalid UTF-8")))
        XCTAssertEqual(m.phase, .authorization)
    }

    // Without UTF8 nothing changes: 8-bit bytes are decoded as before (invalid ones become U+FFFD), nothing is
    // prepared, an empty PLAIN password still reaches the handler.
    func testWithoutUTF8BytesAsBefore() {
        var m = machine()
        _ = send(&m, "USER \u{FF41}lice")
        XCTAssertEqual(m.receive(line: Array("PASS ".utf8) + [0xFF, 0x41, 0xE2, 0x80, 0x83]),
                       .authenticate(.password(user: "\u{FF41}lice", password: "\u{FFFD}A\u{2003}")))
        var p = machine()
        XCTAssertEqual(send(&p, plain("", "alice", "")), .authenticate(.password(user: "alice", password: "")))
        var d = machine()
        XCTAssertEqual(send(&d, "USER e\u{301}"), .send(.ok("send PASS")))
        XCTAssertEqual(send(&d, "PASS e\u{301}"), .authenticate(.password(user: "e\u{301}", password: "e\u{301}")))
    }

    // RFC 2595 §4: STLS discards what the client said before, UTF8 and LANG included.
    func testSTLSResetsUTF8AndLanguage() {
        var m = machine()
        _ = send(&m, "UTF8")
        _ = send(&m, "LANG de")
        XCTAssertEqual(send(&m, "STLS"), .startTLS(.ok("TLS-Aushandlung beginnt")))
        _ = m.tlsEstablished()
        XCTAssertFalse(m.isUTF8)
        XCTAssertEqual(m.textLanguage, .english)
    }

    // MARK: §3: the LANG command

    // §3: bare LANG lists the languages, "tag description", in AUTHORIZATION and in TRANSACTION.
    func testLANGListing() {
        var m = machine()
        XCTAssertEqual(send(&m, "LANG"), .send(.multiline("language listing follows", ["en English", "de Deutsch"])))
        var t = loggedIn()
        XCTAssertEqual(send(&t, "LANG"), .send(.multiline("language listing follows", ["en English", "de Deutsch"])))
        XCTAssertEqual(String(decoding: POP3Response.multiline("language listing follows", POP3Language.listing).encoded(), as: UTF8.self),
                       "+OK language listing follows\r\nen English\r\nde Deutsch\r\n.\r\n")
    }

    // §3: "LANG de" answers +OK with the tag and text in the new language; the texts after it are German, response
    // codes unchanged; "LANG *" goes back to the default.
    func testLANGSwitchesTextsAndStarReturns() {
        var m = machine()
        XCTAssertEqual(send(&m, "LANG de"), .send(.ok("de Sprache ge\u{E4}ndert")))
        XCTAssertEqual(m.textLanguage, .german)
        XCTAssertEqual(send(&m, "RETR 1"), .send(.err(nil, "RETR ist vor der Anmeldung nicht erlaubt")))
        XCTAssertEqual(send(&m, "CAPA"), .send(.multiline("Liste der F\u{E4}higkeiten folgt", m.authorizationCapabilities())))
        XCTAssertEqual(send(&m, "USER alice"), .send(.ok("bitte PASS senden")))
        _ = send(&m, "PASS pw")
        XCTAssertEqual(m.authenticationCompleted(.badCredentials), .send(.err(.auth, "ung\u{FC}ltiger Benutzername oder ung\u{FC}ltiges Passwort")))
        _ = send(&m, "USER alice")
        _ = send(&m, "PASS pw")
        XCTAssertEqual(m.authenticationCompleted(.success(mailbox: "alice@example.test", messages: twoMessages)),
                       .send(.ok("alice@example.test hat 2 Nachrichten (320 Oktette)")))
        XCTAssertEqual(send(&m, "LIST 3"), .send(.err(nil, "keine solche Nachricht")))
        XCTAssertEqual(send(&m, "DELE 1"), .send(.ok("Nachricht 1 gel\u{F6}scht")))
        XCTAssertEqual(send(&m, "RSET"), .send(.ok("Postfach hat 2 Nachrichten (320 Oktette)")))
        XCTAssertEqual(send(&m, "STAT"), .send(.ok("2 320")), "machine-read replies do not change")
        XCTAssertEqual(send(&m, "LANG *"), .send(.ok("en language changed")))
        XCTAssertEqual(send(&m, "LIST 3"), .send(.err(nil, "no such message")))
        XCTAssertEqual(send(&m, "QUIT"), .update(deletions: []))
        XCTAssertEqual(m.updateCompleted(.success(0)), .sendAndClose(.ok("bye (0 messages deleted)")))
    }

    // §3 with RFC 4647 §3.4: ranges match case-insensitively and by lookup ("DE-ch" is German), "i-default" is the
    // default.
    func testLANGLookup() {
        for (range, language) in [("DE", POP3Language.german), ("de-CH", .german), ("de-DE-x-phonebk", .german), ("En-GB", .english),
                                  ("i-default", .english), ("*", .english)] {
            var m = machine()
            if language == .english { _ = send(&m, "LANG de") }
            XCTAssertEqual(send(&m, "LANG \(range)"), .send(.ok("\(language.tag) \(POP3Text.languageChanged.localized(language))")), range)
            XCTAssertEqual(m.textLanguage, language, range)
        }
        XCTAssertNil(POP3Language.lookup("deu"))
        XCTAssertNil(POP3Language.lookup("x-de"))
    }

    // §3: a range nothing matches is -ERR in the current language, the language stays, and it is not a bad command.
    func testLANGUnknownTag() {
        var m = machine { $0.maxBadCommands = 2 }
        _ = send(&m, "LANG de")
        XCTAssertEqual(send(&m, "LANG uga"), .send(.err(nil, "nicht unterst\u{FC}tzte Sprache")))
        XCTAssertEqual(send(&m, "LANG fr"), .send(.err(nil, "nicht unterst\u{FC}tzte Sprache")))
        XCTAssertEqual(m.textLanguage, .german)
        XCTAssertEqual(m.phase, .authorization)
    }

    // The LANG argument is bounded (`POP3Limits.maxLanguageRangeLength`) and must be an RFC 4647 basic language range;
    // anything else is a syntax error (a bad command), never a crash.
    func testLANGArgumentBoundedAndChecked() {
        let longest = "de" + String(repeating: "-abcdefg", count: 7) + "-abcde"
        XCTAssertEqual(longest.utf8.count, POP3Limits.maxLanguageRangeLength)
        XCTAssertEqual(POP3CommandParser.parse(Array("LANG \(longest)".utf8)), .success(.lang(longest)))
        XCTAssertEqual(POP3CommandParser.parse(Array("LANG \(longest)y".utf8)),
                       .failure(.syntax(command: "LANG", reason: "language range longer than 64 octets")))
        for bad in ["d\u{E9}", "abcdefghi", "de-", "-de", "de--ch", "1de", "de_CH", "**", "de-*"] {
            XCTAssertEqual(POP3CommandParser.parse(Array("LANG \(bad)".utf8)), .failure(.syntax(command: "LANG", reason: "invalid language range")), bad)
        }
        XCTAssertEqual(POP3CommandParser.parse(Array("LANG de fr".utf8)), .failure(.syntax(command: "LANG", reason: "LANG takes one language range")))
        var m = machine()
        XCTAssertEqual(send(&m, "LANG \(longest)y"), .send(.err(nil, "language range longer than 64 octets")))
    }

    // Every text has a German form, and the English one is the catalog's default.
    func testCatalogComplete() {
        let samples: [POP3Text] = [.busy, .loggedIn(mailbox: "a", count: 1, octets: 2), .updated(deleted: 1), .plaintextDisallowed,
                                   .notValidAfterLogin(command: "UTF8"), .credentialsNotAcceptable]
        for text in samples {
            XCTAssertFalse(text.localized(.german).isEmpty)
            XCTAssertNotEqual(text.localized(.german), text.localized(.english))
        }
        XCTAssertEqual(POP3Text.loggedIn(mailbox: "a", count: 1, octets: 2).localized(.english), "a has 1 message (2 octets)")
        XCTAssertEqual(POP3Text.loggedIn(mailbox: "a", count: 1, octets: 2).localized(.german), "a hat 1 Nachricht (2 Oktette)")
        XCTAssertEqual(POP3SessionStateMachine.plaintextRefusal, .err(.auth, "plaintext authentication disallowed without TLS (use STLS)"))
    }

    // MARK: RFC 8265 §4.3: the OpaqueString examples (12-18), and the username profile (§3.5)

    func testOpaqueStringRFC8265Examples() {
        XCTAssertEqual(PRECISOpaqueString.enforce("correct horse battery staple"), "correct horse battery staple")   // 12
        XCTAssertEqual(PRECISOpaqueString.enforce("Correct Horse Battery Staple"), "Correct Horse Battery Staple")   // 13: case kept
        XCTAssertEqual(PRECISOpaqueString.enforce("\u{3C0}\u{DF}\u{E5}"), "\u{3C0}\u{DF}\u{E5}")                       // 14
        XCTAssertEqual(PRECISOpaqueString.enforce("Jack of \u{2666}s"), "Jack of \u{2666}s")                           // 15
        XCTAssertEqual(PRECISOpaqueString.enforce("foo\u{1680}bar"), "foo bar")                                        // 16
        XCTAssertNil(PRECISOpaqueString.enforce(""))                                                                    // 17
        XCTAssertNil(PRECISOpaqueString.enforce("my cat is a \u{9}by"))                                                 // 18
        // §4.2.2: NFC, fullwidth kept, unassigned and non-characters refused.
        XCTAssertEqual(PRECISOpaqueString.enforce("A\u{30A}"), "\u{C5}")
        XCTAssertEqual(PRECISOpaqueString.enforce("\u{FF21}\u{FF11}"), "\u{FF21}\u{FF11}")
        XCTAssertNil(PRECISOpaqueString.enforce("a" + String(Character(Unicode.Scalar(0xFDD0)!))), "non-character")
        XCTAssertNil(PRECISOpaqueString.enforce("a\u{E0080}"), "unassigned")
        XCTAssertNil(PRECISOpaqueString.enforce("a\u{AD}b"), "soft hyphen: default ignorable")
    }

    func testUsernameCasePreservedRFC8265Examples() {
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("juliet@example.com"), "juliet@example.com")        // §3.5 1
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("fussball"), "fussball")                            // 2
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("fu\u{DF}ball"), "fu\u{DF}ball")                    // 3
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("\u{3C0}"), "\u{3C0}")                               // 4
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("\u{3A3}"), "\u{3A3}")                               // 5: case kept
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("\u{3C3}"), "\u{3C3}")                               // 6
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("\u{3C2}"), "\u{3C2}")                               // 7
        XCTAssertNil(PRECISUsernameCasePreserved.enforce("foo bar"))                                            // 8: space
        XCTAssertNil(PRECISUsernameCasePreserved.enforce(""))                                                   // 9
        XCTAssertNil(PRECISUsernameCasePreserved.enforce("henry\u{2163}"))                                      // 10: ROMAN NUMERAL FOUR
        XCTAssertNil(PRECISUsernameCasePreserved.enforce("\u{265A}"))                                           // 11: BLACK CHESS KING
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("\u{FF21}\u{FF42}\u{FF43}\u{FF11}"), "Abc1", "width mapping")
        XCTAssertEqual(PRECISUsernameCasePreserved.enforce("\u{FF76}\u{FF9E}"), "\u{30AC}", "halfwidth katakana, then NFC")
    }
}
