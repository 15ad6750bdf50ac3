import NIOCore
import ServerSupport

/// SIGHUP: which settings a running node takes from a configuration read again, and which need a restart.
extension NodeConfiguration {
    /// What changed from `old` to `self`, by configuration key: `live` are applied to new connections and logins at
    /// once (sessions already open keep their timeouts until their next state); `restart` are kept as they were and
    /// need the node restarted (listeners, the node's name, the account directory, the registry's rhythm).
    public func reloadChanges(from old: NodeConfiguration) -> (live: [String], restart: [String]) {
        var changes = ReloadReport.Changes()
        func note(_ key: String, _ changed: Bool, liveChange: Bool = true) { changes.note(key, changed, live: liveChange) }
        note("pop3.idle-timeout", idleTimeout != old.idleTimeout)
        note("pop3.auth-idle-timeout", authorizationIdleTimeout != old.authorizationIdleTimeout)
        note("pop3.login-timeout", loginTimeout != old.loginTimeout)
        note("pop3.max-connections", maxConnections != old.maxConnections)
        note("pop3.backlog", backlog != old.backlog)
        note("pop3.max-connections-per-ip", maxConnectionsPerAddress != old.maxConnectionsPerAddress)
        note("pop3.max-bad-commands", maxBadCommands != old.maxBadCommands)
        note("pop3.plaintext", plaintext != old.plaintext)
        note("pop3.greeting", greeting != old.greeting)
        note("pop3.implementation", implementation != old.implementation)
        note("pop3.cram-md5", cramMD5 != old.cramMD5)
        note("pop3.scram", scram != old.scram)
        note("pop3.ntlm", ntlm != old.ntlm)
        note("pop3.access-journal", accessJournal != old.accessJournal)
        note("pop3.auth-failure-delay", authFailureDelay != old.authFailureDelay)
        // Between two non-zero values the penalty's policy changes in place; turning it on or off needs a restart.
        note("pop3.auth-penalty-max", authPenaltyMaximum != old.authPenaltyMaximum,
             liveChange: (authPenaltyMaximum > 0) == (old.authPenaltyMaximum > 0))
        note("pop3.auth-penalty-exempt", authPenaltyExempt != old.authPenaltyExempt)
        note("pop3.drain-time", drainTime != old.drainTime)
        note("proxy.trusted", proxyTrusted != old.proxyTrusted)
        note("http.allow", httpAllowed != old.httpAllowed)
        // A node started without a certificate has no TLS listener or STLS to give one to.
        let tlsLive = (certificatePath == nil) == (old.certificatePath == nil)
        note("tls.cert", certificatePath != old.certificatePath, liveChange: tlsLive)
        note("tls.key", privateKeyPath != old.privateKeyPath, liveChange: tlsLive)
        note("tls.min-version", tlsPolicy.minimumVersion != old.tlsPolicy.minimumVersion, liveChange: tlsLive)
        note("tls.tls12-ciphers", tlsPolicy.tls12Ciphers != old.tlsPolicy.tls12Ciphers, liveChange: tlsLive)
        note("pop3.listen", listen != old.listen, liveChange: false)
        note("pop3.tls-listen", tlsListen != old.tlsListen, liveChange: false)
        note("http.listen", httpListen != old.httpListen, liveChange: false)
        note("node.id", nodeID != old.nodeID, liveChange: false)
        note("node.registry-interval", registryInterval != old.registryInterval, liveChange: false)
        note("auth.*", auth != old.auth, liveChange: false)
        return (changes.live, changes.restart)
    }

    /// `old` with this configuration's live settings taken over and every restart-only one left as it was: what a
    /// node serves with after a reload.
    public func applyingLiveSettings(to old: NodeConfiguration) -> NodeConfiguration {
        var next = old
        next.idleTimeout = idleTimeout
        next.authorizationIdleTimeout = authorizationIdleTimeout
        next.loginTimeout = loginTimeout
        next.maxConnections = maxConnections
        next.backlog = backlog
        next.maxConnectionsPerAddress = maxConnectionsPerAddress
        next.maxBadCommands = maxBadCommands
        next.plaintext = plaintext
        next.greeting = greeting
        next.implementation = implementation
        next.cramMD5 = cramMD5
        next.scram = scram
        next.ntlm = ntlm
        next.accessJournal = accessJournal
        next.authFailureDelay = authFailureDelay
        if (authPenaltyMaximum > 0) == (old.authPenaltyMaximum > 0) { next.authPenaltyMaximum = authPenaltyMaximum }
        next.authPenaltyExempt = authPenaltyExempt
        next.drainTime = drainTime
        next.proxyTrusted = proxyTrusted
        next.httpAllowed = httpAllowed
        if (certificatePath == nil) == (old.certificatePath == nil) {
            next.certificatePath = certificatePath
            next.privateKeyPath = privateKeyPath
            next.tlsPolicy = tlsPolicy
        }
        return next
    }
}
