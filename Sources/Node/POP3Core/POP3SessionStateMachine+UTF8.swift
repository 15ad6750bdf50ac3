/// UTF8 and LANG (RFC 6856): the preparation of user names and passwords after UTF8, and the LANG command.
/// Without UTF8 every helper here returns what it was given, so a session that never sends UTF8 is the same as before.
extension POP3SessionStateMachine {
    /// RFC 6856 §2 with RFC 8265 §3.4: after UTF8 a user name is enforced with UsernameCasePreserved (width mapping,
    /// NFC); nil when the profile refuses it. Before UTF8 the name as decoded.
    func preparedUser(_ name: String) -> String? {
        utf8Mode ? PRECISUsernameCasePreserved.enforce(name) : name
    }

    /// RFC 6856 §2 with RFC 8265 §4.2: after UTF8 a password is enforced with OpaqueString (non-ASCII spaces to
    /// U+0020, NFC); nil when the profile refuses it. Before UTF8 the password as decoded.
    func preparedPassword(_ password: String) -> String? {
        utf8Mode ? PRECISOpaqueString.enforce(password) : password
    }

    /// A string inside a SASL response: after UTF8 it must be UTF-8 (nil otherwise, RFC 3629); before, decoded as
    /// before (invalid bytes become U+FFFD).
    func saslString(_ bytes: ArraySlice<UInt8>) -> String? {
        utf8Mode ? String(validating: bytes, as: UTF8.self) : String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 6856 §3, in AUTHORIZATION and TRANSACTION. Bare LANG lists the languages ("tag name"); "LANG <range>"
    /// switches to the best match and says so in the new language, after its tag ("+OK de Sprache geändert");
    /// "LANG *" returns to the default. A range nothing matches is answered -ERR in the current language and leaves it
    /// unchanged; it is not a bad command (the client asked a fair question).
    mutating func lang(_ range: String?) -> POP3Action {
        guard let range else {
            return .send(.multiline(text(.languageListing), POP3Language.listing))
        }
        guard let match = POP3Language.lookup(range) else {
            return .send(.err(nil, text(.unsupportedLanguage)))
        }
        language = match
        return .send(.ok("\(match.tag) \(text(.languageChanged))"))
    }
}
