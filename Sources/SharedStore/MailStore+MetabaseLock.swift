import Foundation

/// The metabase is one file rewritten whole (read, change, replace atomically): two administrators changing it
/// at once would each write their own version and one change would be lost (`domain add` of two names at once
/// kept only one). Every change therefore runs under the cluster lease `metabase` (`.poplar/lease-metabase/`, the
/// mailbox lock's protocol): one writer at a time in the whole cluster, a dead writer's lease taken over after one
/// lease. Readers never take it: they see the old file or the new.
extension MailStore {
    public static let metabaseLease = "metabase"
    /// The shortest and longest pause between two tries while another writer holds the lease.
    static let metabaseRetryPauseMicroseconds: ClosedRange<UInt32> = 2_000...20_000

    /// How long a writer waits for the lease before giving up: two leases, so a dead writer's lease (taken over
    /// after this process saw it unchanged for one whole lease) never makes a change fail.
    var metabaseWaitSeconds: Double { Double(lease.milliseconds) * 2 / 1000 + 1 }

    /// Runs `change` holding the metabase lease, inside its window; releases it whatever happens.
    func withMetabaseLease<T>(_ change: () throws -> T) throws -> T {
        let lock = try takeMetabaseLease()
        defer { try? lock.release() }
        return try lock.guarded("the metabase") { deadline in
            let result = try change()
            try checkWindow(deadline)
            return result
        }
    }

    private func takeMetabaseLease() throws -> HeldLock {
        let giveUp = Date().addingTimeInterval(metabaseWaitSeconds)
        while true {
            do {
                return try takeLease(Self.metabaseLease, holder: "admin")
            } catch let refusal as LockRefusal {
                guard Date() < giveUp else {
                    let holder: OwnerRecord
                    switch refusal {
                    case .inUse(let r), .adminLocked(let r): holder = r
                    }
                    throw StoreError(code: .inUse, message: "the metabase is being changed by \(holder.node) since \(holder.since): try again")
                }
                usleep(UInt32.random(in: Self.metabaseRetryPauseMicroseconds))
            }
        }
    }
}
