import NIOPosix

/// What a SIGHUP reload did, by configuration key (node and coordinator alike).
public struct ReloadReport: Sendable, Equatable {
    /// Now in force for new connections and logins.
    public var applied: [String]
    /// Changed in the file but kept as started: they need a restart.
    public var restartNeeded: [String]
    /// Could not be applied, with why (a certificate that does not load); the old value stays.
    public var failed: [String] = []

    public init(applied: [String] = [], restartNeeded: [String] = []) {
        self.applied = applied
        self.restartNeeded = restartNeeded
    }

    /// One line for the log: "applied a, b; changed but kept until a restart: c; not applied: why".
    public var summary: String {
        let applied = applied.isEmpty ? "nothing changed" : "applied " + applied.joined(separator: ", ")
        let restart = restartNeeded.isEmpty ? "" : "; changed but kept until a restart: " + restartNeeded.joined(separator: ", ")
        let failed = failed.isEmpty ? "" : "; not applied: " + failed.joined(separator: "; ")
        return applied + restart + failed
    }

    /// Collects changed keys: `note(key, changed, live:)` files a changed key under applied or restart-needed.
    public struct Changes {
        public private(set) var live: [String] = []
        public private(set) var restart: [String] = []
        public init() {}
        public mutating func note(_ key: String, _ changed: Bool, live liveChange: Bool = true) {
            if changed { liveChange ? live.append(key) : restart.append(key) }
        }
    }
}

extension ReloadReport {
    /// SIGHUP's TLS step, shared by node and coordinator: reads the certificate and key (and policy) into `tls` on
    /// the thread pool. False when they did not load: the failure is recorded, the `tls.*` keys leave `applied`,
    /// and the caller keeps its old TLS settings.
    public mutating func reloadTLS(_ tls: ReloadableTLSContext?, certificatePath: String?, privateKeyPath: String?, policy: TLSPolicy,
                                   on pool: NIOThreadPool) async -> Bool {
        guard let tls, let certificatePath, let privateKeyPath else { return true }
        do {
            try await pool.runIfActive { try tls.reload(certificatePath: certificatePath, privateKeyPath: privateKeyPath, policy: policy) }
            return true
        } catch {
            failed.append("tls: the new certificate or key was not loaded, the old ones and the old TLS settings stay in use: \(error)")
            applied.removeAll { $0.hasPrefix("tls.") }
            return false
        }
    }
}
