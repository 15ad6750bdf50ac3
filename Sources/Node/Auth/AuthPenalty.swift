import Foundation
import NIOCore
import ServerSupport
import SharedStore
import Synchronization

/// The cluster-wide auth penalty (docs/security.md, "The auth penalty"): failed logins counted per client network
/// (IPv4 /32, IPv6 /64, the PROXY header's address where the load balancer is trusted) and per login name, in small
/// `PenaltyRecord`s in the shared store that every node reads, so no database is needed.
///
/// A check waits for its *slot*. Each network with failures has a queue: its checks are spaced by the penalty
/// delay, which doubles from the failure delay (2 s) to `maximum` (15 s) with the failures of the network or of the
/// name it tries, whichever is higher; so more connections, or more nodes, buy no guesses. A network that has
/// failed `nameQueueAfter` times in a row on one name also queues behind every other such network for that name:
/// many addresses guessing one account share one queue. A network that has not failed so on the name never waits
/// for the name's queue, so its owner is not locked out by others' guesses. Slots are claimed by an exclusive
/// create, so two nodes never give out the same one. A success clears the network's record. Networks in `exempt`
/// (loopback by default) are not counted.
public final class AuthPenalty: Sendable {
    public struct Policy: Sendable, Equatable {
        /// The delay after the first failure (the node's failure delay).
        public var base: Double
        /// The delay never grows past this.
        public var maximum: Double
        /// Failures older than this are forgotten.
        public var window: Double
        /// A check whose slot is further away than this is refused at once, unchecked; below the pre-login idle
        /// timeout (60 s), so that a client waiting for its slot is not closed for being idle first.
        public var maxWait: Double
        /// Failures in a row of one network on one name after which it joins that name's queue.
        public var nameQueueAfter: Int
        public var exempt: TrustedNetworks

        public init(base: Double = 2, maximum: Double = 15, window: Double = 900, maxWait: Double = 30, nameQueueAfter: Int = 3,
                    exempt: TrustedNetworks = .loopback) {
            self.base = base
            self.maximum = maximum
            self.window = window
            self.maxWait = maxWait
            self.nameQueueAfter = nameQueueAfter
            self.exempt = exempt
        }

        /// The delay after `failures` failures in a row: 0, then base, 2×base, 4×base, … up to `maximum`.
        public func delay(failures: Int) -> Double {
            guard failures > 0 else { return 0 }
            return min(base * pow(2, Double(min(failures - 1, 30))), max(maximum, base))
        }
    }

    /// What `admit` found and reserved, for `failed` and `succeeded`.
    public struct Ticket: Sendable {
        var network: String?
        var name: String?
        var nameTag: UInt32 = 0
        /// The failures counted so far: the network's, the name's, and the network's in a row on this name.
        var networkFailures = 0
        var nameFailures = 0
        var pairFailures = 0
        /// When the check may run.
        public var slot: Date
        /// How long a failure of this check is answered after the check began.
        public var failureDelay: Double
        /// The next slots this check reserved in the network's and the name's queues.
        var networkReserved: Date?
        var nameReserved: Date?
    }

    public enum Admission: Sendable {
        /// Check the credentials at `ticket.slot` (now, or later).
        case check(Ticket)
        /// Too many failures from this network: answered at once without a check.
        case refuse
    }

    /// Replaced on SIGHUP (`update(policy:)`); a check under way keeps reading the one it began with at most
    /// between two of its steps.
    public var policy: Policy { policyBox.withLock { $0 } }
    private let policyBox: Mutex<Policy>
    let store: MailStore
    /// This node's reservations, so that its own concurrent checks from one network queue even between two writes
    /// of the shared record.
    private let local = Mutex<[String: Date]>([:])
    private let lastSweep = Mutex<Date>(Date())
    static let maxLocalEntries = 100_000

    public init(store: MailStore, policy: Policy) {
        self.store = store
        self.policyBox = Mutex(policy)
    }

    /// SIGHUP: a new failure delay, maximum or exempt networks for the checks that begin from now on.
    public func update(policy: Policy) { policyBox.withLock { $0 = policy } }

    /// The network a peer is counted in: its /32 or /64, nil when exempt (or not an IP peer).
    public func network(of peer: SocketAddress?) -> String? {
        guard let peer, !policy.exempt.contains(peer) else { return nil }
        switch peer {
        case .v4(let a):
            return "net:" + IPAddressText.formatIPv4(withUnsafeBytes(of: a.address.sin_addr) { Array($0) })
        case .v6(let a):
            let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            if bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
                return "net:" + IPAddressText.formatIPv4(Array(bytes.suffix(4)))
            }
            return "net:" + IPAddressText.formatIPv6(Array(bytes.prefix(8)) + Array(repeating: 0, count: 8)) + "/64"
        case .unixDomainSocket:
            return nil
        }
    }

    /// Before a check (blocking: store reads; a claim and writes when a record exists). `network` from
    /// `network(of:)`; `user` the login name as given, when the mechanism names one before the check.
    public func admit(network: String?, user: String?, now: Date = Date()) throws -> Admission {
        guard let network else { return .check(Ticket(slot: now, failureDelay: policy.base)) }
        let networkName = store.penaltyName(network)
        let nameName = user.map { store.penaltyName("user:" + $0.lowercased()) }
        let networkRecord = live(try store.penaltyRecord(named: networkName), now: now)
        let nameRecord = try nameName.flatMap { live(try store.penaltyRecord(named: $0), now: now) }
        var ticket = Ticket(network: networkName, name: nameName, nameTag: nameName.map(Self.tag) ?? 0,
                            networkFailures: networkRecord?.failures ?? 0, nameFailures: nameRecord?.failures ?? 0,
                            slot: now, failureDelay: policy.base)
        if let networkRecord, networkRecord.nameTag == ticket.nameTag, ticket.nameTag != 0 { ticket.pairFailures = networkRecord.nameFailures }
        ticket.failureDelay = policy.delay(failures: max(ticket.networkFailures, ticket.nameFailures) + 1)
        guard networkRecord != nil || nameRecord != nil else { return .check(ticket) }
        // The queues: the network's, and the name's for a network that keeps guessing it.
        let nameQueue = nameName.flatMap { name in ticket.pairFailures >= policy.nameQueueAfter ? name : nil }
        let earliest = local.withLock { reservations in
            var slot = max(now, networkRecord?.nextSlot ?? now, reservations[networkName] ?? now)
            if let nameQueue { slot = max(slot, nameRecord?.nextSlot ?? now, reservations[nameQueue] ?? now) }
            return slot
        }
        guard let (slot, taken) = try claimSlot(from: earliest, now: now, ticket: ticket, queues: [networkName] + (nameQueue.map { [$0] } ?? []),
                                                onGrid: (networkRecord?.failures ?? 0) > 0 || nameQueue != nil)
        else { return .refuse }
        // Each slot another node took first was a check too: this one is spaced as the next after them.
        ticket.slot = slot
        ticket.networkFailures += taken
        ticket.failureDelay = policy.delay(failures: max(ticket.networkFailures, ticket.nameFailures) + 1)
        ticket.networkReserved = slot.addingTimeInterval(ticket.failureDelay)
        if nameQueue != nil { ticket.nameReserved = slot.addingTimeInterval(policy.delay(failures: ticket.nameFailures + taken + 1)) }
        local.withLock { reservations in
            if reservations.count >= Self.maxLocalEntries { reservations = reservations.filter { $0.value > now } }
            reservations[networkName] = max(reservations[networkName] ?? now, ticket.networkReserved!)
            if let nameQueue, let reserved = ticket.nameReserved { reservations[nameQueue] = max(reservations[nameQueue] ?? now, reserved) }
        }
        // The reserved check counts as a failure until it succeeds (a success removes the record), so that checks
        // queued back to back are spaced 2, 4, 8, 15 s whenever their answers come.
        try store.writePenaltyRecord(named: networkName, PenaltyRecord(
            failures: ticket.networkFailures + 1, lastFailure: networkRecord?.lastFailure ?? now,
            nextSlot: max(networkRecord?.nextSlot ?? now, ticket.networkReserved!), nameTag: networkRecord?.nameTag ?? 0,
            nameFailures: networkRecord?.nameFailures ?? 0))
        if let nameQueue, let nameRecord, let reserved = ticket.nameReserved {
            try store.writePenaltyRecord(named: nameQueue, PenaltyRecord(failures: nameRecord.failures, lastFailure: nameRecord.lastFailure,
                                                                         nextSlot: max(nameRecord.nextSlot, reserved)))
        }
        return .check(ticket)
    }

    /// The first free slot at or after `earliest` in every queue, claimed; nil when none is within `maxWait`. Slots
    /// lie on a grid, so that two nodes that compute a slot from records of different ages land on the same point
    /// and the claim gives it to one: for a network that has failed, a grid of its spacing; for one that has not (a
    /// new address trying a name others guess), whole seconds. `taken`: the slots found claimed on the way.
    private func claimSlot(from earliest: Date, now: Date, ticket: Ticket, queues: [String], onGrid: Bool) throws -> (Date, taken: Int)? {
        var slot = earliest
        for taken in 0..<Self.claimAttempts {
            let spacing = max(policy.delay(failures: max(ticket.networkFailures + taken, ticket.nameFailures) + 1),
                              queues.count > 1 ? policy.delay(failures: ticket.nameFailures + taken + 1) : 0)
            let step = onGrid ? max(spacing, 0.001) : 1
            slot = Date(timeIntervalSince1970: (slot.timeIntervalSince1970 / step).rounded(.up) * step)
            guard slot.timeIntervalSince(now) <= policy.maxWait else { return nil }
            if try queues.allSatisfy({ try store.claimPenaltySlot(named: $0, at: slot) }) { return (slot, taken) }
            slot = slot.addingTimeInterval(spacing)  // another node took it: the next one
        }
        return nil
    }

    /// After a wrong password: one more failure for the network, the name, and the network on that name.
    public func failed(_ ticket: Ticket, now: Date = Date()) throws {
        guard let network = ticket.network else { return }
        // Read again: another node may have counted or reserved meanwhile.
        let current = live(try store.penaltyRecord(named: network), now: now)
        // A reserved check was counted when it was admitted.
        let failures = ticket.networkReserved == nil
            ? max(current?.failures ?? 0, ticket.networkFailures) + 1 : max(current?.failures ?? 0, ticket.networkFailures + 1)
        let next = max(current?.nextSlot ?? now, ticket.networkReserved ?? now.addingTimeInterval(policy.delay(failures: failures)))
        let pair = current.map { $0.nameTag == ticket.nameTag && ticket.nameTag != 0 ? $0.nameFailures : 0 } ?? 0
        try store.writePenaltyRecord(named: network, PenaltyRecord(failures: failures, lastFailure: now, nextSlot: next,
                                                                   nameTag: ticket.nameTag, nameFailures: max(pair, ticket.pairFailures) + 1))
        local.withLock { reservations in reservations[network] = max(reservations[network] ?? next, next) }
        if let name = ticket.name {
            let current = live(try store.penaltyRecord(named: name), now: now)
            let failures = max(current?.failures ?? 0, ticket.nameFailures) + 1
            try store.writePenaltyRecord(named: name, PenaltyRecord(failures: failures, lastFailure: now,
                                                                    nextSlot: max(current?.nextSlot ?? now, ticket.nameReserved ?? now)))
        }
    }

    /// After a success: the network's record goes (the name's stays: its owner's success says nothing of others).
    public func succeeded(_ ticket: Ticket) throws {
        guard let network = ticket.network else { return }
        _ = local.withLock { $0.removeValue(forKey: network) }
        if ticket.networkReserved != nil || ticket.networkFailures > 0 { try store.removePenaltyRecord(named: network) }
    }

    static let claimAttempts = 8

    /// A short tag of a name's record name, kept in a network's record (0 is "none").
    static func tag(_ recordName: String) -> UInt32 {
        max(1, UInt32(recordName.suffix(8), radix: 16) ?? 1)
    }

    /// Removes records past their window, at most once per window per node (from the node's registry task).
    public func sweepIfDue(now: Date = Date()) throws -> Int? {
        let due = lastSweep.withLock { last -> Bool in
            guard now.timeIntervalSince(last) >= policy.window else { return false }
            last = now
            return true
        }
        guard due else { return nil }
        local.withLock { reservations in reservations = reservations.filter { $0.value > now } }
        return try store.sweepPenaltyRecords(olderThan: now.addingTimeInterval(-policy.window))
    }

    /// A record whose last failure is past the window and whose slot has passed counts as none.
    private func live(_ record: PenaltyRecord?, now: Date) -> PenaltyRecord? {
        guard let record else { return nil }
        if record.lastFailure < now.addingTimeInterval(-policy.window) && record.nextSlot <= now { return nil }
        return record
    }
}
