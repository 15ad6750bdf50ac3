import NIOCore
import ServerSupport

/// SIGHUP on a node: certificates, and every setting that can change while sessions run.
extension POP3Server {
    /// SIGHUP: reads the certificate and key again. Sessions already in TLS keep theirs; a file that does not load
    /// leaves the old certificate in place, and the error says why.
    public func reloadTLS() async throws {
        guard let tls = state.withLockedValue({ $0.shared?.tls }) else { return }
        try await threadPool.runIfActive { try tls.reload() }
        logger.notice("TLS certificate and key reloaded from \(tls.certificatePath)")
    }

    /// SIGHUP: takes the live settings of `fresh` (the configuration read again, `NodeConfiguration.reloadChanges`)
    /// without dropping a session; the certificate and key are read again in any case (a renewal under the same
    /// name). Nothing is half-applied: a certificate that does not load keeps every TLS setting as it was.
    public func reload(_ fresh: NodeConfiguration) async -> ReloadReport {
        let old = configuration
        let changes = fresh.reloadChanges(from: old)
        var report = ReloadReport(applied: changes.live, restartNeeded: changes.restart)
        var next = fresh.applyingLiveSettings(to: old)
        let shared = state.withLockedValue { $0.shared }
        if await !report.reloadTLS(shared?.tls, certificatePath: next.certificatePath, privateKeyPath: next.privateKeyPath,
                                   policy: next.tlsPolicy, on: threadPool) {
            (next.certificatePath, next.privateKeyPath, next.tlsPolicy) = (old.certificatePath, old.privateKeyPath, old.tlsPolicy)
        }
        live.withLockedValue { $0 = next }
        shared?.limiter.update(maxActive: next.maxConnections, backlog: next.backlog, perAddress: next.maxConnectionsPerAddress)
        if let penalty = shared?.authenticator.penalty {
            var policy = penalty.policy
            policy.base = Double(next.authFailureDelay.nanoseconds) / 1e9
            policy.maximum = next.authPenaltyMaximum
            policy.exempt = next.authPenaltyExempt
            penalty.update(policy: policy)
        }
        return report
    }
}
