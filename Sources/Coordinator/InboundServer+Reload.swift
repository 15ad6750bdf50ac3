import NIOCore
import ServerSupport

/// SIGHUP on a coordinator: certificates, and the settings that can change while it receives mail.
extension InboundServer {
    /// SIGHUP: reads the certificate and key again; a file that does not load leaves the old one in place.
    public func reloadTLS() async throws {
        guard let tls = sharedState.withLockedValue({ $0 })?.tls else { return }
        try await threadPool.runIfActive { try tls.reload() }
        logger.notice("TLS certificate and key reloaded from \(tls.certificatePath)")
    }

    /// SIGHUP: takes the live settings of `fresh` (`CoordinatorConfiguration.reloadChanges`) for new connections,
    /// transactions and pickup scans; the certificate and key are read again in any case. A certificate that does
    /// not load keeps every TLS setting as it was.
    public func reload(_ fresh: CoordinatorConfiguration) async -> ReloadReport {
        let old = configuration
        let changes = fresh.reloadChanges(from: old)
        var report = ReloadReport(applied: changes.live, restartNeeded: changes.restart)
        var next = fresh.applyingLiveSettings(to: old)
        if await !report.reloadTLS(sharedState.withLockedValue({ $0 })?.tls, certificatePath: next.certificatePath, privateKeyPath: next.privateKeyPath,
                                   policy: next.tlsPolicy, on: threadPool) {
            (next.certificatePath, next.privateKeyPath, next.tlsPolicy) = (old.certificatePath, old.privateKeyPath, old.tlsPolicy)
        }
        live.withLockedValue { $0 = next }
        return report
    }
}
