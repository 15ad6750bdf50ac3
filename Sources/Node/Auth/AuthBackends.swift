import SharedStore

/// Makes the configured `AuthBackend`. Blocking (a directory's first connection, reading a bind password file):
/// called from the thread pool when the node starts, so a wrong setting stops the node with a clear error.
public enum AuthBackends {
    public static func make(_ configuration: AuthConfiguration, store: MailStore, cache: LoginCache) throws -> any AuthBackend {
        switch configuration.method {
        case .passwd:
            return PasswdBackend(store: store, cache: cache)
        case .ldap(let settings):
            return try LDAPBackend(settings: settings, timeout: configuration.timeout)
        case .pam(let settings):
            let backend = PAMBackend(settings: settings, timeout: configuration.timeout)
            try backend.checkConfiguration()
            return backend
        }
    }
}
