#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The clock a process measures lock leases with: its own, monotonic, never compared with another machine's
/// (docs/lock-protocol.md, "Time, without clock agreement"). Nanoseconds from an arbitrary origin.
public protocol LeaseClock: Sendable {
    func now() -> UInt64
}

/// `CLOCK_BOOTTIME`: monotonic, and it keeps counting while the machine is suspended, so a holder that slept
/// knows its window ran out.
public struct BootTimeClock: LeaseClock {
    public init() {}
    public func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// A clock that moves only when told (tests of leases without sleeping).
public final class ManualLeaseClock: LeaseClock {
    private let value = Atomic<UInt64>(1_000_000_000)
    public init() {}
    public func now() -> UInt64 { value.load(ordering: .sequentiallyConsistent) }
    public func advance(seconds: Double) {
        value.add(UInt64(seconds * 1_000_000_000), ordering: .sequentiallyConsistent)
    }
}

/// Which rule makes a session's lock stale (`lock-rule` in `.poplar/cluster`; docs/lock-protocol.md):
/// - `lease`: every session heartbeats its own record at `L/3`, and is guarded by its own window and its node
///   instance's; a lock is taken over by either rule. Safe beside nodes of earlier versions (they know the lock
///   rule only); a cluster file without the key is this.
/// - `node`: sessions of a node instance do not heartbeat (`hb=no` in their record: after the take a held mailbox
///   costs the NAS nothing); only the node rule takes their locks over. Set once every node knows the node rule
///   (`poplar cluster lock-rule node`); `poplar init` makes new clusters so.
public enum LockRule: String, Sendable, CaseIterable {
    case lease, node
}

/// The lease of the mailbox lock: `lease` (L), the holder's window after a confirmed heartbeat (W = L/2) and the
/// heartbeat interval (L/3). One value for the whole cluster: it is kept in `.poplar/cluster`.
public struct LockLease: Sendable, Equatable {
    /// The lease of a cluster file without `lock-lease-ms` (clusters made before `initMilliseconds`).
    public static let defaultMilliseconds = 30_000
    /// What `poplar init` gives a new cluster: a dead node's mailboxes are served elsewhere about 7 s after the fault
    /// (a beat interval and `L`; docs/lock-protocol.md), and a node must confirm a 1-s beat within `W` = 3 s.
    public static let initMilliseconds = 6_000
    public static let minimumMilliseconds = 300
    /// `poplar init --lock-lease` allows up to 3600 s. A larger value (a hand-edited or damaged `.poplar/cluster`)
    /// counts as this: the deadlines are nanoseconds in a UInt64, and `lock-lease-ms=9223372036854775807` trapped
    /// every node at its first lock (found by the store fuzz target, Tests/Fuzz/Crashes/store).
    public static let maximumMilliseconds = 3_600_000
    public var milliseconds: Int

    public init(milliseconds: Int = LockLease.defaultMilliseconds) {
        self.milliseconds = min(max(Self.minimumMilliseconds, milliseconds), Self.maximumMilliseconds)
    }

    public var nanoseconds: UInt64 { UInt64(milliseconds) * 1_000_000 }
    public var windowNanoseconds: UInt64 { nanoseconds / 2 }
    public var heartbeatNanoseconds: UInt64 { nanoseconds / 3 }
}
