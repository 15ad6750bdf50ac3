import SharedStore

/// The console's administrators (`poplar admin-user`), kept in the store's control area (`.poplar/admins/`).
extension AdminOperations {
    public func admins() throws -> [String] {
        try call("cannot list administrators") { try store.admins() }
    }

    @discardableResult
    public func addAdmin(_ name: String, password: String, by actor: AdminActor) throws -> String {
        let n = try call("invalid administrator name") { try MailStore.validateAdminName(name) }
        let prepared = try Self.preparePassword(password)
        try call("cannot add administrator \(n)") { try store.addAdmin(n, password: prepared) }
        try audit(actor, "admin.add", n)
        return n
    }

    @discardableResult
    public func setAdminPassword(_ name: String, password: String, by actor: AdminActor) throws -> String {
        let n = try call("invalid administrator name") { try MailStore.validateAdminName(name) }
        let prepared = try Self.preparePassword(password)
        try call("cannot set the password of administrator \(n)") { try store.setAdminPassword(n, password: prepared) }
        try audit(actor, "admin.passwd", n)
        return n
    }

    @discardableResult
    public func removeAdmin(_ name: String, by actor: AdminActor) throws -> String {
        let n = try call("invalid administrator name") { try MailStore.validateAdminName(name) }
        try call("cannot remove administrator \(n)") { try store.removeAdmin(n) }
        try audit(actor, "admin.remove", n)
        return n
    }

    /// Whether the password is the administrator's (the KDF: blocking). A password that cannot be prepared is
    /// refused after the same work as a wrong one.
    public func verifyAdmin(_ name: String, password: String) -> Bool {
        guard let prepared = try? Self.preparePassword(password) else {
            _ = store.verifyAdmin("", password: password)
            return false
        }
        return store.verifyAdmin(name, password: prepared)
    }

    /// A login or logout at the console, in the audit log.
    public func auditSession(_ actor: AdminActor, _ action: String) throws {
        try audit(actor, action, actor.who)
    }
}

extension AdminOperations {
    public func adminExists(_ name: String) throws -> Bool {
        try call("cannot read the administrators") { try store.adminExists(name) }
    }

    // MARK: API tokens

    /// A bearer token for the HTTP API (`poplar admin-user token`): shown once, its record audited (never the secret).
    public func makeToken(for name: String, days: Int?, by actor: AdminActor) throws -> (token: String, record: APIToken) {
        let n = try call("invalid administrator name") { try MailStore.validateAdminName(name) }
        let made = try call("cannot make a token for \(n)") { try store.makeAPIToken(admin: n, days: days) }
        try audit(actor, "token.add", n, detail: "id=\(made.record.id)" + (days.map { " days=\($0)" } ?? ""))
        return made
    }

    public func tokens() throws -> [APIToken] {
        try call("cannot list tokens") { try store.apiTokens() }
    }

    public func revokeToken(_ id: String, by actor: AdminActor) throws {
        try call("cannot revoke token") { try store.revokeAPIToken(id) }
        try audit(actor, "token.revoke", id)
    }
}
