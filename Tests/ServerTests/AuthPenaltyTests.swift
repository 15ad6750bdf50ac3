import Foundation
import NIOCore
import POP3Core
import SharedStore
import XCTest

@testable import Node

/// The cluster-wide auth penalty on a real store: two `AuthPenalty` instances on one store are two nodes. Time is
/// passed in, so nothing sleeps.
final class AuthPenaltyTests: XCTestCase {
    var fixture: NodeFixture!
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = AuthPenalty.Policy(base: 2, maximum: 15, window: 900, maxWait: 50)

    override func setUp() async throws { fixture = try NodeFixture() }
    override func tearDown() async throws { await fixture.stop() }

    func node() -> AuthPenalty { AuthPenalty(store: fixture.store, policy: policy) }

    func ticket(_ p: AuthPenalty, _ network: String = "net:198.51.100.7", user: String? = "alice@example.test", at t: Double)
        throws -> AuthPenalty.Ticket?
    {
        guard case .check(let ticket) = try p.admit(network: network, user: user, now: t0 + t) else { return nil }
        return ticket
    }

    func testDelayDoublesFromTheFailureDelayToTheMaximum() {
        XCTAssertEqual((0...6).map { policy.delay(failures: $0) }, [0, 2, 4, 8, 15, 15, 15])
        XCTAssertEqual(policy.delay(failures: PenaltyRecord.maxFailures), 15)
    }

    func testNetworksArePerHostForIPv4AndPer64ForIPv6() throws {
        let p = node()
        XCTAssertEqual(p.network(of: try SocketAddress(ipAddress: "198.51.100.7", port: 1)), "net:198.51.100.7")
        XCTAssertEqual(p.network(of: try SocketAddress(ipAddress: "2001:db8:1:2:aaaa::1", port: 1)), "net:2001:db8:1:2::/64")
        XCTAssertEqual(p.network(of: try SocketAddress(ipAddress: "2001:db8:1:2:bbbb::9", port: 1)), "net:2001:db8:1:2::/64")
        XCTAssertEqual(p.network(of: try SocketAddress(ipAddress: "::ffff:198.51.100.7", port: 1)), "net:198.51.100.7")
        XCTAssertNil(p.network(of: try SocketAddress(ipAddress: "127.0.0.1", port: 1)), "loopback is exempt by default")
        XCTAssertNil(p.network(of: try SocketAddress(ipAddress: "::1", port: 1)))
        XCTAssertNil(p.network(of: nil))
    }

    // One network's guesses are spaced by 2, 4, 8, 15 s on a grid of that spacing, and a second node sees the same
    // slots.
    func testSlotsSpaceOneNetworksChecksAcrossNodes() throws {
        let a = node(), b = node()
        var t = 0.0
        var slots: [Double] = []
        for i in 0..<6 {
            let p = i % 2 == 0 ? a : b
            let ticket = try XCTUnwrap(try ticket(p, at: t))
            slots.append(ticket.slot.timeIntervalSince(t0))
            t = ticket.slot.timeIntervalSince(t0)
            try p.failed(ticket, now: t0 + t)
        }
        XCTAssertEqual(slots, [0, 4, 8, 30, 45, 60])
        // Many connections at once from that network take successive slots: they do not check in parallel.
        let parallel = try (0..<3).map { i in try XCTUnwrap(try ticket(i % 2 == 0 ? a : b, at: t)).slot.timeIntervalSince(t0) }
        XCTAssertEqual(parallel, [75, 90, 105])
        // Past the longest wait: refused at once, unchecked.
        guard case .refuse = try a.admit(network: "net:198.51.100.7", user: "alice@example.test", now: t0 + t) else {
            return XCTFail("a check further away than maxWait must be refused")
        }
    }

    // The name's failures space a new network's checks, but never make the owner's network wait.
    func testANamesFailuresNeverQueueAnotherNetwork() throws {
        let p = node()
        for i in 0..<5 {
            let ticket = try XCTUnwrap(try ticket(p, "net:203.0.113.\(i)", at: Double(i)))
            XCTAssertEqual(ticket.slot, t0 + Double(i), "a network's first check is at once")
            try p.failed(ticket, now: t0 + Double(i))
        }
        let owner = try XCTUnwrap(try ticket(p, "net:192.0.2.1", at: 5))
        XCTAssertEqual(owner.slot, t0 + 5, "the owner's network does not wait for the attackers'")
        XCTAssertEqual(owner.failureDelay, 15, "but a wrong password for a name under attack is answered slowly")
        try p.succeeded(owner)
        // The attacking network that guessed once is spaced by the name's failures (15 s), not by its own (2 s).
        let again = try XCTUnwrap(try ticket(p, "net:203.0.113.4", at: 6))
        let next = try XCTUnwrap(try ticket(p, "net:203.0.113.4", at: 6))
        XCTAssertEqual(next.slot.timeIntervalSince(again.slot), 15)
    }

    // Networks that keep guessing one name share that name's queue: many addresses buy no more guesses on it.
    func testNetworksThatKeepGuessingANameShareItsQueue() throws {
        let p = node()
        var t = 0.0
        for network in ["net:203.0.113.1", "net:203.0.113.2"] {
            for _ in 0..<policy.nameQueueAfter {
                let ticket = try XCTUnwrap(try ticket(p, network, at: t))
                t = max(t, ticket.slot.timeIntervalSince(t0))
                try p.failed(ticket, now: t0 + t)
            }
        }
        let one = try XCTUnwrap(try ticket(p, "net:203.0.113.1", at: t))
        let two = try XCTUnwrap(try ticket(p, "net:203.0.113.2", at: t))
        XCTAssertEqual(two.slot.timeIntervalSince(one.slot), 15, "the second network waits behind the first on alice's queue")
        // The same networks on another name are not queued behind alice's.
        let other = try XCTUnwrap(try ticket(p, "net:203.0.113.3", user: "bob@example.test", at: t))
        XCTAssertEqual(other.slot, t0 + t)
    }

    // Two nodes that read one record at the same moment compute the same slot; the exclusive claim gives it to one.
    func testTwoNodesNeverCheckInOneSlot() throws {
        let a = node(), b = node()
        try a.failed(try XCTUnwrap(try ticket(a, at: 0)), now: t0)
        let name = fixture.store.penaltyName("net:198.51.100.7")
        let before = try XCTUnwrap(try fixture.store.penaltyRecord(named: name))
        let first = try XCTUnwrap(try ticket(a, at: 1))
        try fixture.store.writePenaltyRecord(named: name, before)  // b read the record before a wrote it
        let second = try XCTUnwrap(try ticket(b, at: 1))
        XCTAssertEqual(first.slot, t0 + 4)
        XCTAssertEqual(second.slot, t0 + 8, "the claimed slot is taken: the next one")
    }

    func testASuccessClearsTheNetworkButNotTheName() throws {
        let p = node()
        var ticket = try XCTUnwrap(try ticket(p, at: 0))
        try p.failed(ticket, now: t0)
        ticket = try XCTUnwrap(try self.ticket(p, at: 1))
        XCTAssertEqual(ticket.slot, t0 + 4, "not before 2 s after the failure, on the 4 s grid")
        try p.succeeded(ticket)
        let after = try XCTUnwrap(try self.ticket(p, user: "bob@example.test", at: 3))
        XCTAssertEqual(after.slot, t0 + 3, "the network is clean again")
        XCTAssertEqual(after.failureDelay, 2)
        let name = try XCTUnwrap(try self.ticket(p, "net:192.0.2.50", at: 3))
        XCTAssertEqual(name.failureDelay, 4, "alice's failure still counts for her name")
    }

    func testFailuresAreForgottenAfterTheWindowAndSwept() throws {
        let p = node()
        let ticket = try XCTUnwrap(try ticket(p, at: 0))
        try p.failed(ticket, now: t0)
        let later = try XCTUnwrap(try self.ticket(p, at: 901))
        XCTAssertEqual(later.slot, t0 + 901)
        XCTAssertEqual(later.failureDelay, 2)
        XCTAssertEqual(try fixture.store.sweepPenaltyRecords(olderThan: t0 + 900), 2, "the network's and the name's records")
        XCTAssertEqual(try fixture.store.sweepPenaltyRecords(olderThan: t0 + 900), 0)
    }

    // The records name neither the address nor the login name.
    func testRecordsAreNamedByAKeyedHash() throws {
        let p = node()
        try p.failed(try XCTUnwrap(try ticket(p, at: 0)), now: t0)
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.directory + "/.poplar/penalty").sorted()
        XCTAssertEqual(names.count, 2)
        for name in names {
            XCTAssertTrue(name.hasPrefix("p-") && name.count == 34, name)
            XCTAssertFalse(name.contains("198") || name.contains("alice"))
        }
        XCTAssertEqual(fixture.store.penaltyName("net:198.51.100.7"), fixture.store.penaltyName("net:198.51.100.7"))
        XCTAssertNotEqual(fixture.store.penaltyName("net:198.51.100.7"), fixture.store.penaltyName("net:198.51.100.8"))
    }

    func testRecordsBoundedAndTotal() {
        XCTAssertEqual(PenaltyRecord(decoding: PenaltyRecord(failures: 3, lastFailure: t0, nextSlot: t0 + 5).encoded()),
                       PenaltyRecord(failures: 3, lastFailure: t0, nextSlot: t0 + 5))
        for bad in ["", "failures=1\n", "failures=-1\nlast=0\nnext=0\n", "failures=x\nlast=0\nnext=0\n",
                    "failures=1\nlast=0\nnext=0\n" + String(repeating: "#", count: 200), "failures=99999999999\nlast=0\nnext=0\n"] {
            XCTAssertNil(PenaltyRecord(decoding: Array(bad.utf8)), bad)
        }
    }

    // An unreachable store does not stop logins (the login's own store calls answer [SYS/TEMP]).
    func testAnUnreachableStoreAdmitsUnpenalized() throws {
        let address = try fixture.addMailbox("alice")
        let authenticator = Authenticator(store: fixture.store, nodeID: "n1", cache: LoginCache(ttl: .seconds(1), capacity: 10))
        let withPenalty = Authenticator(store: fixture.store, nodeID: "n1", backend: authenticator.backend, penalty: node())
        fixture.volume.failing.withLockedValue { $0 = true }
        let ticket = withPenalty.admit(.password(user: address.description, password: "x"), peer: try SocketAddress(ipAddress: "198.51.100.7", port: 1))
        XCTAssertNil(ticket.refusal)
        XCTAssertEqual(ticket.wait, .zero)
        fixture.volume.failing.withLockedValue { $0 = false }
    }

    // Through the Authenticator: a wrong password counts, the right one clears the network.
    func testAuthenticatorCountsOutcomes() throws {
        let address = try fixture.addMailbox("alice")
        let cache = LoginCache(ttl: .seconds(1), capacity: 10)
        let a = Authenticator(store: fixture.store, nodeID: "n1", backend: PasswdBackend(store: fixture.store, cache: cache), penalty: node())
        let peer = try SocketAddress(ipAddress: "198.51.100.7", port: 1)
        let wrong = POP3Credentials.password(user: address.description, password: "wrong")
        let first = a.admit(wrong, peer: peer)
        XCTAssertEqual(a.authenticate(wrong, sessionID: "s1", ticket: first).outcome, .badCredentials)
        let second = a.admit(wrong, peer: peer)
        XCTAssertGreaterThan(second.wait, .seconds(1), "the next check from that network waits for its slot")
        XCTAssertEqual(second.failureDelay, .seconds(4))
        let right = POP3Credentials.password(user: address.description, password: "secret")
        let result = a.authenticate(right, sessionID: "s2", ticket: a.admit(right, peer: peer))
        guard case .success = result.outcome else { return XCTFail("\(result.outcome)") }
        try result.session?.release()
        // The network is clean; alice's name still has a failure, so the slot is claimed on the next whole second.
        XCTAssertLessThanOrEqual(a.admit(wrong, peer: peer).wait, .seconds(1), "a success from the network clears its record")
    }
}
