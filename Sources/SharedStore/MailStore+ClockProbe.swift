import Foundation

/// How far the NAS's clock is from this host's, seen through the store (`poplar doctor`). The lock's lease is
/// measured on each process's own monotonic clock (docs/lock-protocol.md), but EXPIRE compares a message's time,
/// which the NAS stamps, with the node's clock, and LOGIN-DELAY, the auth penalty and the registry compare times
/// one host wrote with another host's clock.
public struct ClockProbe: Sendable {
    /// The NAS's clock minus this host's, in seconds: the probe file's modification time as the NAS set it, against
    /// the midpoint of the call that created it (from the sample with the shortest round trip).
    public var skewSeconds: Double
    /// The skew is known to ± this: half that sample's round trip.
    public var uncertaintySeconds: Double
    /// The median round trip of the creates.
    public var roundTripSeconds: Double
}

extension MailStore {
    /// Creates a probe file in `.poplar/tmp/` `samples` times (an empty exclusive create: one call, which is when
    /// the NAS stamps its modification time), reads its time back with a stat, and removes it. `now` is the local
    /// wall clock (tests pass their own).
    public func probeClock(samples: Int = 5, now: () -> Date = Date.init) throws -> ClockProbe {
        var best = (skew: 0.0, roundTrip: Double.infinity)
        var roundTrips: [Double] = []
        for _ in 0..<max(1, samples) {
            let path = try Self.metaTmp.appending("clock-probe.\(Self.nonce())")
            defer { try? volume.unlinkChecked(path) }
            let before = now()
            let handle = try volume.createFile(path, exclusive: true)
            let after = now()
            try handle.close()
            let modified = Double(try volume.stat(path).modifiedNanoseconds) / 1e9
            let roundTrip = after.timeIntervalSince(before)
            let midpoint = before.timeIntervalSince1970 + roundTrip / 2
            roundTrips.append(roundTrip)
            if roundTrip < best.roundTrip { best = (modified - midpoint, roundTrip) }
        }
        let sorted = roundTrips.sorted()
        return ClockProbe(skewSeconds: best.skew, uncertaintySeconds: best.roundTrip / 2, roundTripSeconds: sorted[sorted.count / 2])
    }
}

extension ClockProbe {
    public enum Verdict: Sendable, Equatable { case ok, warn, fail }
    /// Past this the clocks are worth fixing, whatever the lease.
    public static let warnSeconds = 1.0

    /// What the skew is at least: the estimate less its uncertainty (a slow round trip never raises an alarm).
    public var leastSkewSeconds: Double { max(0, abs(skewSeconds) - uncertaintySeconds) }

    /// `fail` past a quarter of the cluster's lease, `warn` past `warnSeconds`, judged on `leastSkewSeconds`.
    public func verdict(lease: LockLease) -> Verdict {
        if leastSkewSeconds > Double(lease.milliseconds) / 4000 { return .fail }
        return leastSkewSeconds > Self.warnSeconds ? .warn : .ok
    }
}
