/// `auth.pam.group`: only members of this Unix group may log in (the seed's "POP3 Users"), as the account's primary
/// group or a supplementary one. A group that does not exist is the operator's mistake, not the user's: unavailable,
/// never "everyone" or "no one" silently.
struct UnixGroupGate: Sendable {
    let group: String

    enum Answer: Equatable {
        case member
        case notMember
        case unavailable(String)
    }

    /// Nil when the group exists; else why the gate cannot be checked.
    func problem() -> String? {
        do {
            return try UnixAccounts.groupID(named: group) == nil ? "group \(group) does not exist" : nil
        } catch {
            return "group \(group): \(error)"
        }
    }

    func admits(_ user: String) -> Answer {
        do {
            guard let gid = try UnixAccounts.groupID(named: group) else { return .unavailable("group \(group) does not exist") }
            guard let primary = try UnixAccounts.primaryGroup(ofUser: user) else { return .notMember }
            return try UnixAccounts.groups(ofUser: user, primary: primary).contains(gid) ? .member : .notMember
        } catch {
            return .unavailable("group \(group) of \(user): \(error)")
        }
    }
}
