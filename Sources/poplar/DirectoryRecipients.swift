import Coordinator
import Node
import SharedStore

/// The node's account directory (`AuthBackend`) as the coordinator's `RecipientDirectory`: one implementation of
/// "does this account exist" for logins and deliveries.
struct DirectoryRecipients: RecipientDirectory {
    let backend: any AuthBackend

    func lookup(_ address: MailboxAddress) -> RecipientLookup {
        switch backend.lookupAccount(address) {
        case .exists: return .exists
        case .unknown: return .unknown
        case .unavailable(let why): return .unavailable(why)
        }
    }
}
