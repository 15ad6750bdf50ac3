/// The human-readable texts the session state machine sends, by meaning, so that each can be said in every
/// `POP3Language` (RFC 6856 §3). Only the text after "+OK"/"-ERR" and the response code changes: codes in brackets
/// (RFC 2449 §8, RFC 3206) and machine-read parts (STAT's numbers, the LANG tag, CAPA and listing lines) do not.
/// Texts not listed here stay English: the parser's syntax reasons, the SCRAM, NTLM and OAUTHBEARER diagnostics, and
/// texts the handler passes in (in-use, temporary failures). The English wording is the one Poplar always sent; tests
/// and real clients compare it, so it never changes.
public enum POP3Text: Sendable, Equatable {
    // Session (RFC 1939 §3, §4, §6; RFC 2449 §4).
    case busy
    case emptyCommand
    case unknownCommand
    case authenticationLineTooLong
    case lineTooLong
    case loggedIn(mailbox: String, count: Int, octets: Int64)
    case invalidCredentials
    case adminLocked
    case mechanismNotEnabled
    case updated(deleted: Int)
    case autologout
    case shuttingDown
    case capabilityList
    case tooManyBadCommands
    // AUTHORIZATION (RFC 1939 §7, RFC 2595 §4).
    case plaintextDisallowed
    case sendPass
    case passMustFollowUser
    case apopNotAvailable
    case tlsAlreadyActive
    case stlsNotAvailable
    case stlsBeforeUser
    case beginTLS
    case bye
    case notValidBeforeLogin(command: String)
    // TRANSACTION (RFC 1939 §5).
    case listing(count: Int, octets: Int64)
    case messageDeleted(Int)
    case maildrop(count: Int, octets: Int64)
    case notValidAfterLogin(command: String)
    case noSuchMessage
    // AUTH (RFC 5034 §4, RFC 4616, RFC 2195).
    case methodsSupported
    case unsupportedMechanism
    case authenticationCancelled
    case invalidBase64
    case malformedPlain
    case authorizationIdentityMismatch
    case cramMD5NoInitialResponse
    case malformedCRAMMD5
    // UTF8 and LANG (RFC 6856).
    case utf8Enabled
    case languageListing
    case languageChanged
    case unsupportedLanguage
    case invalidUTF8
    case credentialsNotAcceptable

    /// The text in `language`.
    public func localized(_ language: POP3Language) -> String {
        switch language {
        case .english: return english
        case .german: return german
        }
    }

    /// "" for one, "s" for any other count (English plural).
    static func plural(_ n: some BinaryInteger) -> String { n == 1 ? "" : "s" }
}
