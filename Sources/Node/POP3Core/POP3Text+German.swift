/// The German texts (LANG de), in UTF-8: a client that asks for a language takes its text in UTF-8, as the LANG
/// listing itself is (RFC 6856 §3).
extension POP3Text {
    var german: String {
        switch self {
        case .busy: return "beschäftigt: ein Befehl nach dem anderen"
        case .emptyCommand: return "leerer Befehl"
        case .unknownCommand: return "unbekannter Befehl"
        case .authenticationLineTooLong: return "Anmeldezeile zu lang, Anmeldung abgebrochen"
        case .lineTooLong: return "Zeile zu lang"
        case .loggedIn(let mailbox, let count, let octets): return "\(mailbox) hat \(count) \(Self.nachricht(count)) (\(octets) Oktette)"
        case .invalidCredentials: return "ungültiger Benutzername oder ungültiges Passwort"
        case .adminLocked: return "Postfach vom Administrator gesperrt"
        case .mechanismNotEnabled: return "dieses Verfahren ist für dieses Postfach nicht freigegeben"
        case .updated(let n): return "auf Wiedersehen (\(n) \(Self.nachricht(n)) gelöscht)"
        case .autologout: return "automatische Abmeldung: zu lange untätig"
        case .shuttingDown: return "Server wird beendet, bitte später erneut versuchen"
        case .capabilityList: return "Liste der Fähigkeiten folgt"
        case .tooManyBadCommands: return "zu viele ungültige Befehle, Verbindung wird geschlossen"
        case .plaintextDisallowed: return "Anmeldung im Klartext ohne TLS nicht erlaubt (STLS verwenden)"
        case .sendPass: return "bitte PASS senden"
        case .passMustFollowUser: return "PASS muss auf USER folgen"
        case .apopNotAvailable: return "APOP nicht verfügbar"
        case .tlsAlreadyActive: return "TLS ist bereits aktiv"
        case .stlsNotAvailable: return "STLS nicht verfügbar"
        case .stlsBeforeUser: return "STLS muss vor USER kommen"
        case .beginTLS: return "TLS-Aushandlung beginnt"
        case .bye: return "auf Wiedersehen"
        case .notValidBeforeLogin(let command): return "\(command) ist vor der Anmeldung nicht erlaubt"
        case .listing(let count, let octets): return "\(count) \(Self.nachricht(count)) (\(octets) Oktette)"
        case .messageDeleted(let n): return "Nachricht \(n) gelöscht"
        case .maildrop(let count, let octets): return "Postfach hat \(count) \(Self.nachricht(count)) (\(octets) Oktette)"
        case .notValidAfterLogin(let command): return "\(command) ist nach der Anmeldung nicht erlaubt"
        case .noSuchMessage: return "keine solche Nachricht"
        case .methodsSupported: return "unterstützte Verfahren:"
        case .unsupportedMechanism: return "nicht unterstütztes Anmeldeverfahren"
        case .authenticationCancelled: return "Anmeldung abgebrochen"
        case .invalidBase64: return "ungültige Base64-Daten, Anmeldung abgebrochen"
        case .malformedPlain: return "fehlerhafte PLAIN-Antwort"
        case .authorizationIdentityMismatch: return "die Autorisierungsidentität muss leer oder gleich dem Benutzer sein"
        case .cramMD5NoInitialResponse: return "CRAM-MD5 erlaubt keine erste Antwort im Befehl"
        case .malformedCRAMMD5: return "fehlerhafte CRAM-MD5-Antwort"
        case .utf8Enabled: return "UTF-8-Modus eingeschaltet"
        case .languageListing: return "Liste der Sprachen folgt"
        case .languageChanged: return "Sprache geändert"
        case .unsupportedLanguage: return "nicht unterstützte Sprache"
        case .invalidUTF8: return "ungültiges UTF-8"
        case .credentialsNotAcceptable: return "Benutzername oder Passwort enthält unzulässige Zeichen"
        }
    }

    /// "Nachricht" for one, "Nachrichten" otherwise.
    static func nachricht(_ n: some BinaryInteger) -> String { n == 1 ? "Nachricht" : "Nachrichten" }
}
