import Foundation
import SharedStore

/// The delivery page's operations (the seed's pickup and Badmail folders): what waits, what failed and why, retry
/// and delete, each change audited. The coordinator delivers what is put back into pickup at its next scan.
extension AdminOperations {
    public struct DeliveryStatus: Sendable {
        public var pickupWaiting: Int
        public var oldestWaiting: Date?
        public var badmail: [MailStore.BadmailEntry]
    }

    public func deliveryStatus(limit: Int = AdminLimits.badmailShown) throws -> DeliveryStatus {
        let waiting = try call("cannot read the pickup folder") { try store.pickupWaiting() }
        let bad = try call("cannot read the Badmail folder") { try store.badmail(limit: limit) }
        return DeliveryStatus(pickupWaiting: waiting.count, oldestWaiting: waiting.oldest, badmail: bad)
    }

    public func badmailMessage(_ name: String) throws -> (bytes: [UInt8], truncated: Bool, reason: String) {
        try call("cannot read \(LogSafeText.escaped(name, limit: 60)) in Badmail") { try store.badmailMessage(name) }
    }

    public func retryBadmail(_ name: String, by actor: AdminActor) throws {
        try call("cannot put \(LogSafeText.escaped(name, limit: 60)) back into pickup") { try store.retryBadmail(name) }
        try audit(actor, "badmail.retry", name)
    }

    public func deleteBadmail(_ name: String, by actor: AdminActor) throws {
        try call("cannot delete \(LogSafeText.escaped(name, limit: 60)) from Badmail") { try store.deleteBadmail(name) }
        try audit(actor, "badmail.delete", name)
    }
}

extension AdminOperations {
    /// Every node's and coordinator's per-minute counts summed, for the minutes after `since` (the charts page).
    public func clusterStats(since: Int64) throws -> [MinuteSample] {
        try call("cannot read the processes' stats") { try store.clusterStats(since: since) }
    }
}
