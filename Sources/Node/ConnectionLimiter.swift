import NIOConcurrencyHelpers

/// The seed's socket pool limits, as admission control: at most `maxActive` sessions are served at once; up to
/// `backlog` more connections wait (accepted, no greeting yet) and are served in arrival order as slots free;
/// beyond that a connection is refused (the handler answers `-ERR [SYS/TEMP]` and closes it). Separately, at most
/// `perAddress` connections (0: no limit) from one client address, counted from accept to close, so one host cannot
/// take every slot.
public final class ConnectionLimiter: Sendable {
    public enum Admission: Sendable, Equatable {
        case admitted
        case queued(ticket: UInt64)
        case refused
    }

    private struct State {
        var active = 0
        var nextTicket: UInt64 = 0
        var waiting: [(ticket: UInt64, resume: @Sendable () -> Void)] = []
        /// Open connections by client address; an address leaves the table with its last connection, so the table
        /// never holds more entries than there are connections.
        var byAddress: [String: Int] = [:]
        var maxActive: Int
        var backlog: Int
        var perAddress: Int
    }

    public var maxActive: Int { state.withLockedValue { $0.maxActive } }
    public var backlog: Int { state.withLockedValue { $0.backlog } }
    public var perAddress: Int { state.withLockedValue { $0.perAddress } }
    private let state: NIOLockedValueBox<State>

    public init(maxActive: Int, backlog: Int, perAddress: Int = 0) {
        state = NIOLockedValueBox(State(maxActive: max(1, maxActive), backlog: max(0, backlog), perAddress: max(0, perAddress)))
    }

    /// SIGHUP: new limits. More slots serve the oldest waiting connections at once; fewer take effect as sessions
    /// end (nobody is closed). Connections are counted per address whatever the limit, so a limit set later
    /// counts the connections already open.
    public func update(maxActive: Int, backlog: Int, perAddress: Int) {
        let resumed: [@Sendable () -> Void] = state.withLockedValue { s in
            s.maxActive = max(1, maxActive)
            s.backlog = max(0, backlog)
            s.perAddress = max(0, perAddress)
            var resumed: [@Sendable () -> Void] = []
            while s.active < s.maxActive, !s.waiting.isEmpty {
                s.active += 1
                resumed.append(s.waiting.removeFirst().resume)
            }
            return resumed
        }
        for resume in resumed { resume() }
    }

    /// Counts a connection from `address`; false (nothing counted) if that address already has `perAddress` open.
    public func admitAddress(_ address: String) -> Bool {
        state.withLockedValue { s in
            let open = s.byAddress[address, default: 0]
            guard s.perAddress == 0 || open < s.perAddress else { return false }
            s.byAddress[address] = open + 1
            return true
        }
    }

    /// A connection counted by `admitAddress` closed.
    public func releaseAddress(_ address: String) {
        state.withLockedValue { s in
            let open = s.byAddress[address, default: 0] - 1
            s.byAddress[address] = open > 0 ? open : nil
        }
    }

    public func openConnections(from address: String) -> Int { state.withLockedValue { $0.byAddress[address, default: 0] } }

    /// Asks for a slot. With `.queued`, `resume` is called (from any thread) once the slot is the caller's.
    public func admit(resume: @escaping @Sendable () -> Void) -> Admission {
        state.withLockedValue { s in
            if s.active < s.maxActive {
                s.active += 1
                return .admitted
            }
            if s.waiting.count < s.backlog {
                s.nextTicket += 1
                s.waiting.append((s.nextTicket, resume))
                return .queued(ticket: s.nextTicket)
            }
            return .refused
        }
    }

    /// A queued connection went away before it was served.
    public func cancel(ticket: UInt64) {
        state.withLockedValue { s in s.waiting.removeAll { $0.ticket == ticket } }
    }

    /// An admitted session ended: its slot passes to the oldest waiting connection, if any.
    public func release() {
        let next: (@Sendable () -> Void)? = state.withLockedValue { s in
            if !s.waiting.isEmpty && s.active <= s.maxActive {
                return s.waiting.removeFirst().resume  // the slot is handed over: `active` stays
            }
            s.active = max(0, s.active - 1)
            return nil
        }
        next?()
    }

    public var activeCount: Int { state.withLockedValue { $0.active } }
    public var waitingCount: Int { state.withLockedValue { $0.waiting.count } }
}
