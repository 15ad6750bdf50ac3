import Foundation
import POP3Core
import SharedStore

/// What a POP3 session notes for its mailbox's access journal as it goes (`AccessRecord`): written when it gives
/// the lock back, by UPDATE or by the release that ends any other way.
struct SessionJournal {
    var mechanism = "unknown"
    var retrieved = 0
    var retrievedBytes: Int64 = 0
    /// Until something else is known: the client went away (or the connection broke).
    var ended = "disconnect"

    static func mechanism(_ credentials: POP3Credentials) -> String {
        switch credentials {
        case .password: return "password"
        case .apop: return "apop"
        case .cramMD5: return "cram-md5"
        case .scram: return "scram"
        case .bearer: return "oauth"
        case .ntlm: return "ntlm"
        }
    }

    func record(_ session: MailboxSession, node: String, sessionID: String, client: String) -> AccessRecord {
        AccessRecord(at: session.owner.since, node: node, session: sessionID, client: client, mechanism: mechanism,
                     retrieved: retrieved, retrievedBytes: retrievedBytes, ended: ended)
    }
}
