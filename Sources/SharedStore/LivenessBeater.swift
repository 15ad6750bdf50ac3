import Foundation
import Synchronization

/// Beats a node instance's liveness record and refreshes the watch over every other instance, on a thread of its
/// own: a beat must not wait behind logins on the shared thread pool, or a busy node would lapse and lose every
/// session it holds (docs/lock-protocol.md, "The node rule").
public final class LivenessBeater: Sendable {
    /// Beats per window: a beat every `W / beatsPerWindow`, at most `maxInterval` apart, so a single slow or lost
    /// beat never closes the window.
    static let beatsPerWindow: UInt64 = 3
    public static let maxIntervalNanoseconds: UInt64 = 1_000_000_000

    public enum Event: Sendable {
        /// A beat not confirmed, and why.
        case unconfirmed(String)
        /// The window ran out before a beat was confirmed: every session that was open is lost.
        case lapsed(count: UInt64)
        /// A beat confirmed after one or more that were not.
        case recovered
    }

    private let store: MailStore
    private let liveness: NodeLiveness
    public let intervalNanoseconds: UInt64
    private let report: @Sendable (Event) -> Void
    private let stopped = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    public init(store: MailStore, liveness: NodeLiveness, report: @escaping @Sendable (Event) -> Void) {
        self.store = store
        self.liveness = liveness
        self.intervalNanoseconds = max(1_000_000, min(Self.maxIntervalNanoseconds, store.lease.windowNanoseconds / Self.beatsPerWindow))
        self.report = report
    }

    /// Beats once at once (so the node can admit logins as soon as it returns true), then keeps beating on its thread.
    @discardableResult
    public func start() -> Bool {
        let first = store.beatLiveness(liveness)
        if let first { report(.unconfirmed(first)) }
        try? store.scanLiveness(own: liveness)
        let thread = Thread { [self] in self.run(lastFailed: first != nil) }
        thread.name = "poplar-liveness"
        thread.start()
        return first == nil
    }

    private func run(lastFailed: Bool) {
        var failed = lastFailed
        var lapses = liveness.lapses
        while !stopped.load(ordering: .relaxed) {
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(intervalNanoseconds)))
            if stopped.load(ordering: .relaxed) { break }
            if let reason = store.beatLiveness(liveness) {
                failed = true
                report(.unconfirmed(reason))
            } else {
                if failed {
                    failed = false
                    report(.recovered)
                }
                store.freeLeftovers(liveness)
            }
            if liveness.lapses != lapses {
                lapses = liveness.lapses
                report(.lapsed(count: lapses))
            }
            try? store.scanLiveness(own: liveness)
        }
        done.signal()
    }

    /// Stops beating and removes the instance's record (a clean stop: its sessions have ended).
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        wake.signal()
        done.wait()
        store.removeLivenessRecord(liveness)
    }
}
