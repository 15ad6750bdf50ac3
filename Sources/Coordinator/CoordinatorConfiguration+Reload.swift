import ServerSupport

/// SIGHUP: which settings a running coordinator takes from a configuration read again, and which need a restart.
extension CoordinatorConfiguration {
    /// What changed from `old` to `self`, by configuration key: `live` apply to new connections, transactions and
    /// pickup scans at once; `restart` are kept as they were (listeners, names, the spool, the pickup rhythm).
    public func reloadChanges(from old: CoordinatorConfiguration) -> (live: [String], restart: [String]) {
        var changes = ReloadReport.Changes()
        changes.note("coordinator.max-message-size", maxMessageSize != old.maxMessageSize)
        changes.note("coordinator.max-recipients", maxRecipients != old.maxRecipients)
        changes.note("coordinator.normalize-bare-line-endings", normalizeBareLineEndings != old.normalizeBareLineEndings)
        changes.note("coordinator.mta-networks", mtaNetworks != old.mtaNetworks)
        // A coordinator started without a certificate offers no STARTTLS to give one to.
        let tlsLive = (certificatePath == nil) == (old.certificatePath == nil)
        changes.note("tls.cert", certificatePath != old.certificatePath, live: tlsLive)
        changes.note("tls.key", privateKeyPath != old.privateKeyPath, live: tlsLive)
        changes.note("tls.min-version", tlsPolicy.minimumVersion != old.tlsPolicy.minimumVersion, live: tlsLive)
        changes.note("tls.tls12-ciphers", tlsPolicy.tls12Ciphers != old.tlsPolicy.tls12Ciphers, live: tlsLive)
        changes.note("coordinator.lmtp", lmtpListen != old.lmtpListen, live: false)
        changes.note("coordinator.smtp", smtpListen != old.smtpListen, live: false)
        changes.note("coordinator.socketmap", socketmapListen != old.socketmapListen, live: false)
        changes.note("coordinator.http-listen", httpListen != old.httpListen, live: false)
        changes.note("coordinator.hostname", hostname != old.hostname, live: false)
        changes.note("coordinator.id", coordinatorID != old.coordinatorID, live: false)
        changes.note("coordinator.spool", spoolDirectory != old.spoolDirectory, live: false)
        changes.note("coordinator.pickup-interval", pickupInterval != old.pickupInterval, live: false)
        changes.note("auth.autocreate", autocreate != old.autocreate, live: false)
        return (changes.live, changes.restart)
    }

    /// `old` with this configuration's live settings taken over: what a coordinator serves with after a reload.
    public func applyingLiveSettings(to old: CoordinatorConfiguration) -> CoordinatorConfiguration {
        var next = old
        next.maxMessageSize = maxMessageSize
        next.maxRecipients = maxRecipients
        next.normalizeBareLineEndings = normalizeBareLineEndings
        next.mtaNetworks = mtaNetworks
        if (certificatePath == nil) == (old.certificatePath == nil) {
            next.certificatePath = certificatePath
            next.privateKeyPath = privateKeyPath
            next.tlsPolicy = tlsPolicy
        }
        return next
    }
}
