import Crypto
import Foundation
import NIOCore
import SharedStore
import POP3Core
import XCTest

@testable import Node

/// The node over real sockets on 127.0.0.1: RFC 1939, 2449, 2595 (refusals), 5034 and 3206 clauses, limits,
/// failure paths. Real third-party clients are exercised by Tests/clients (run by Tests/run-tests).
final class LiveServerTests: XCTestCase {
    var fixture: NodeFixture!

    override func setUp() async throws {
        fixture = try NodeFixture()
    }

    override func tearDown() async throws {
        await fixture.stop()
    }

    // RFC 1939 §4-§6: a whole session, every TRANSACTION command, deletion only at QUIT.
    func testFullSessionRFC1939() async throws {
        let alice = try fixture.addMailbox("alice")
        let m1 = "Subject: one\r\n\r\n.starts with a dot\r\n.\r\nend\r\n"
        let m2 = "Subject: two\r\nX: y\r\n\r\nl1\r\nl2\r\nl3\r\n"
        try fixture.deliver(m1, to: alice)
        try fixture.deliver(m2, to: alice)
        try await fixture.start()
        let c = try fixture.login(alice)
        XCTAssertEqual(try c.command("STAT"), "+OK 2 \(m1.utf8.count + m2.utf8.count)")
        XCTAssertTrue(try c.command("LIST").hasPrefix("+OK"))
        XCTAssertEqual(String(decoding: try c.readMultiline(), as: UTF8.self), "1 \(m1.utf8.count)\r\n2 \(m2.utf8.count)\r\n")
        XCTAssertEqual(try c.command("LIST 2"), "+OK 2 \(m2.utf8.count)")
        XCTAssertTrue(try c.command("LIST 3").hasPrefix("-ERR"))
        XCTAssertTrue(try c.command("UIDL").hasPrefix("+OK"))
        let uidls = String(decoding: try c.readMultiline(), as: UTF8.self).split(separator: "\r\n")
        XCTAssertEqual(uidls.count, 2)
        XCTAssertTrue(uidls.allSatisfy { $0.split(separator: " ")[1].count == 26 })
        XCTAssertTrue(try c.command("RETR 1").hasPrefix("+OK"))
        XCTAssertEqual(String(decoding: try c.readMultiline(), as: UTF8.self), m1, "RETR is byte-exact after un-dot-stuffing")
        XCTAssertTrue(try c.command("TOP 2 1").hasPrefix("+OK"))
        XCTAssertEqual(String(decoding: try c.readMultiline(), as: UTF8.self), "Subject: two\r\nX: y\r\n\r\nl1\r\n")
        XCTAssertTrue(try c.command("DELE 1").hasPrefix("+OK"))
        XCTAssertTrue(try c.command("DELE 1").hasPrefix("-ERR"), "already deleted")
        XCTAssertTrue(try c.command("RETR 1").hasPrefix("-ERR"), "a deleted message is not retrievable")
        XCTAssertEqual(try c.command("STAT"), "+OK 1 \(m2.utf8.count)")
        XCTAssertTrue(try c.command("RSET").hasPrefix("+OK"))
        XCTAssertEqual(try c.command("STAT"), "+OK 2 \(m1.utf8.count + m2.utf8.count)")
        XCTAssertTrue(try c.command("NOOP").hasPrefix("+OK"))
        XCTAssertTrue(try c.command("DELE 2").hasPrefix("+OK"))
        XCTAssertTrue(try c.command("QUIT").hasPrefix("+OK"))
        XCTAssertTrue(c.isClosedByServer())
        XCTAssertTrue(try fixture.waitUntilFree(alice))
        let info = try fixture.store.mailboxInfo(alice)
        XCTAssertEqual(info.messageCount, 1, "DELE 2 took effect at QUIT, the RSET undid DELE 1")
    }

    // RFC 1939 §7 APOP, with the digest over the banner's timestamp.
    func testAPOP() async throws {
        let alice = try fixture.addMailbox("alice", password: "tanstaaf", apop: true)
        let bob = try fixture.addMailbox("bob", password: "pw", apop: false)
        try await fixture.start()
        for (address, password, expectOK) in [(alice, "tanstaaf", true), (alice, "wrong", false), (bob, "pw", false)] {
            let c = try fixture.client()
            let greeting = try c.readLine()!
            let timestamp = String(greeting[greeting.firstIndex(of: "<")!...greeting.lastIndex(of: ">")!])
            let digest = Insecure.MD5.hash(data: Array((timestamp + password).utf8)).map { String(format: "%02x", $0) }.joined()
            let reply = try c.command("APOP \(address) \(digest)")
            XCTAssertEqual(reply.hasPrefix("+OK"), expectOK, reply)
            if !expectOK { XCTAssertTrue(reply.hasPrefix("-ERR [AUTH]"), reply) }
            _ = try c.command("QUIT")
        }
        // The banner's timestamp differs per connection.
        let a = try fixture.client(), b = try fixture.client()
        XCTAssertNotEqual(try a.readLine(), try b.readLine())
    }

    // RFC 5034: AUTH PLAIN (initial response and continuation), LOGIN, CRAM-MD5, cancel, bare AUTH.
    func testSASL() async throws {
        let alice = try fixture.addMailbox("alice", password: "pw", apop: true)
        try await fixture.start { $0.cramMD5 = true }
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

        var c = try fixture.client(); _ = try c.readLine()
        XCTAssertTrue(try c.command("AUTH").hasPrefix("+OK"))
        let mechanisms = String(decoding: try c.readMultiline(), as: UTF8.self)
        XCTAssertTrue(mechanisms.contains("PLAIN") && mechanisms.contains("LOGIN") && mechanisms.contains("CRAM-MD5"), mechanisms)
        XCTAssertTrue(try c.command("AUTH PLAIN \(b64("\0\(alice)\0pw"))").hasPrefix("+OK"))
        _ = try c.command("QUIT")

        c = try fixture.client(); _ = try c.readLine()
        XCTAssertTrue(try c.command("AUTH PLAIN").hasPrefix("+ "))
        XCTAssertTrue(try c.command(b64("\0\(alice)\0wrong")).hasPrefix("-ERR [AUTH]"))
        XCTAssertTrue(try c.command("AUTH LOGIN").hasPrefix("+ "))
        XCTAssertTrue(try c.command(b64(alice.description)).hasPrefix("+ "))
        XCTAssertTrue(try c.command(b64("pw")).hasPrefix("+OK"))
        _ = try c.command("QUIT")

        c = try fixture.client(); _ = try c.readLine()
        let challengeLine = try c.command("AUTH CRAM-MD5")
        XCTAssertTrue(challengeLine.hasPrefix("+ "))
        let challenge = Data(base64Encoded: String(challengeLine.dropFirst(2)))!
        let mac = HMAC<Insecure.MD5>.authenticationCode(for: challenge, using: SymmetricKey(data: Data("pw".utf8)))
        let hex = mac.map { String(format: "%02x", $0) }.joined()
        XCTAssertTrue(try c.command(b64("\(alice) \(hex)")).hasPrefix("+OK"))
        _ = try c.command("QUIT")

        c = try fixture.client(); _ = try c.readLine()
        XCTAssertTrue(try c.command("AUTH LOGIN").hasPrefix("+ "))
        XCTAssertTrue(try c.command("*").hasPrefix("-ERR"), "RFC 5034 §4: * cancels")
        XCTAssertTrue(try c.command("AUTH PLAIN !!!notbase64").hasPrefix("-ERR"))
        XCTAssertTrue(try c.command("CAPA").hasPrefix("+OK"), "the session survives bad AUTH input")
    }

    // RFC 2449 CAPA in both states; RFC 3206 codes announced.
    func testCAPA() async throws {
        let alice = try fixture.addMailbox("alice")
        try await fixture.start { $0.implementation = "Poplar" }
        let c = try fixture.client(); _ = try c.readLine()
        XCTAssertTrue(try c.command("CAPA").hasPrefix("+OK"))
        let before = String(decoding: try c.readMultiline(), as: UTF8.self)
        for cap in POP3Capabilities.always + ["USER", "SASL", "IMPLEMENTATION Poplar"] {
            XCTAssertTrue(before.contains(cap), "\(cap) missing from \(before)")
        }
        XCTAssertFalse(before.contains("STLS"), "no certificate configured: no STLS")
        _ = try c.command("USER \(alice)"); _ = try c.command("PASS secret")
        XCTAssertTrue(try c.command("CAPA").hasPrefix("+OK"))
        let after = String(decoding: try c.readMultiline(), as: UTF8.self)
        // RFC 2449 §5: "Capabilities available in the AUTHORIZATION state MUST be announced in both states."
        for line in before.split(separator: "\r\n") where !line.isEmpty {
            XCTAssertTrue(after.contains(line), "\(line) announced before login, missing after: \(after)")
        }
    }

    // RFC 2449 §8.1.1 / RFC 3206: [IN-USE] names the holder; the first session is unharmed.
    func testInUse() async throws {
        let alice = try fixture.addMailbox("alice")
        try fixture.deliver("Subject: x\r\n\r\nbody\r\n", to: alice)
        try await fixture.start()
        let first = try fixture.login(alice)
        let second = try fixture.client(); _ = try second.readLine()
        _ = try second.command("USER \(alice)")
        let refused = try second.command("PASS secret")
        XCTAssertTrue(refused.hasPrefix("-ERR [IN-USE]"), refused)
        XCTAssertTrue(refused.contains("testnode"), "names the node: \(refused)")
        XCTAssertTrue(try first.command("STAT").hasPrefix("+OK 1 "))
        XCTAssertTrue(try first.command("RETR 1").hasPrefix("+OK"))
        _ = try first.readMultiline()
        XCTAssertTrue(try first.command("QUIT").hasPrefix("+OK"))
        XCTAssertTrue(try fixture.waitUntilFree(alice))
        _ = try second.command("USER \(alice)")
        XCTAssertTrue(try second.command("PASS secret").hasPrefix("+OK"), "the refused client may retry in the same connection")
    }

    // RFC 1939 §6: a dropped connection deletes nothing, and the lock is released.
    func testDropDeletesNothingAndReleasesLock() async throws {
        let alice = try fixture.addMailbox("alice")
        try fixture.deliver("Subject: x\r\n\r\nbody\r\n", to: alice)
        try await fixture.start()
        let c = try fixture.login(alice)
        XCTAssertTrue(try c.command("DELE 1").hasPrefix("+OK"))
        c.abort()
        XCTAssertTrue(try fixture.waitUntilFree(alice), "lock released after the connection died")
        XCTAssertEqual(try fixture.store.mailboxInfo(alice).messageCount, 1)
    }

    // [AUTH] for a wrong password and an unknown user alike; [SYS/PERM] for an admin-locked mailbox.
    func testAuthFailuresAndAdminLock() async throws {
        let alice = try fixture.addMailbox("alice")
        try await fixture.start()
        let c = try fixture.client(); _ = try c.readLine()
        _ = try c.command("USER \(alice)")
        let wrong = try c.command("PASS nope")
        _ = try c.command("USER nobody@example.test")
        let unknown = try c.command("PASS nope")
        _ = try c.command("USER ../../etc")
        let traversal = try c.command("PASS x")
        XCTAssertTrue(wrong.hasPrefix("-ERR [AUTH]"), wrong)
        XCTAssertEqual(wrong, unknown)
        XCTAssertEqual(wrong, traversal)
        try fixture.store.adminLock(alice, by: "admin@test")
        _ = try c.command("USER \(alice)")
        XCTAssertTrue(try c.command("PASS secret").hasPrefix("-ERR [SYS/PERM]"))
        try fixture.store.adminUnlock(alice)
        _ = try c.command("USER \(alice)")
        XCTAssertTrue(try c.command("PASS secret").hasPrefix("+OK"))
    }

    // Store unreachable: [SYS/TEMP], no crash; it works again when the store is back.
    func testStoreUnavailable() async throws {
        let alice = try fixture.addMailbox("alice")
        try fixture.deliver("Subject: x\r\n\r\nbody\r\n", to: alice)
        try await fixture.start()
        fixture.volume.failing.withLockedValue { $0 = true }
        let c = try fixture.client(); _ = try c.readLine()
        _ = try c.command("USER \(alice)")
        XCTAssertTrue(try c.command("PASS secret").hasPrefix("-ERR [SYS/TEMP]"))
        fixture.volume.failing.withLockedValue { $0 = false }
        _ = try c.command("USER \(alice)")
        XCTAssertTrue(try c.command("PASS secret").hasPrefix("+OK"))
        // Store lost in TRANSACTION: RETR answers [SYS/TEMP]; QUIT deletes nothing and says so.
        fixture.volume.failing.withLockedValue { $0 = true }
        XCTAssertTrue(try c.command("RETR 1").hasPrefix("-ERR [SYS/TEMP]"))
        XCTAssertTrue(try c.command("DELE 1").hasPrefix("+OK"))
        XCTAssertTrue(try c.command("QUIT").hasPrefix("-ERR [SYS/TEMP]"))
        fixture.volume.failing.withLockedValue { $0 = false }
        XCTAssertEqual(try fixture.store.mailboxInfo(alice).messageCount, 1)
    }

    // RFC 2449 §4: a line over 255 octets is answered -ERR and the connection survives.
    func testLongLineAndGarbage() async throws {
        try await fixture.start()
        let c = try fixture.client(); _ = try c.readLine()
        XCTAssertTrue(try c.command(String(repeating: "A", count: 10_000)).hasPrefix("-ERR"))
        XCTAssertTrue(try c.command("CAPA").hasPrefix("+OK"))
        _ = try c.readMultiline()
        try c.sendBytes([0x55, 0x53, 0x45, 0x52, 0x00, 0x41, 0x0D, 0x0A])
        XCTAssertTrue(try c.readLine()!.hasPrefix("-ERR"), "NUL in a command")
        let other = try fixture.client()
        XCTAssertTrue(try other.readLine()!.hasPrefix("+OK"))
    }

    // Pipelining (RFC 2449 §6.6): 10,000 NOOPs in one write, all answered in order.
    func testPipelinedNOOPs() async throws {
        let alice = try fixture.addMailbox("alice")
        try await fixture.start()
        let c = try fixture.login(alice)
        try c.send(String(repeating: "NOOP\r\n", count: 10_000) + "STAT\r\n")
        for _ in 0..<10_000 { XCTAssertEqual(try c.readLine(), "+OK") }
        XCTAssertEqual(try c.readLine(), "+OK 0 0")
    }

    // The seed's socketmax + socketbacklog: over both, -ERR [SYS/TEMP] and close; queued ones are served later.
    func testConnectionLimit() async throws {
        try await fixture.start {
            $0.maxConnections = 1
            $0.backlog = 1
        }
        let a = try fixture.client()
        XCTAssertTrue(try a.readLine()!.hasPrefix("+OK"))
        let queued = try fixture.client()
        // Connections are accepted on different event loops: let the second one reach the queue before the third.
        try await Task.sleep(nanoseconds: 300_000_000)
        let refused = try fixture.client()
        XCTAssertTrue(try refused.readLine()!.hasPrefix("-ERR [SYS/TEMP]"))
        XCTAssertTrue(refused.isClosedByServer())
        _ = try a.command("QUIT")
        XCTAssertTrue(try queued.readLine()!.hasPrefix("+OK"), "the queued connection gets its greeting once a slot frees")
    }

    // RFC 1939 §3 autologout: an idle session is closed without UPDATE and its lock released.
    func testIdleTimeout() async throws {
        let alice = try fixture.addMailbox("alice")
        try fixture.deliver("Subject: x\r\n\r\nbody\r\n", to: alice)
        try await fixture.start { $0.idleTimeout = .milliseconds(500) }
        let c = try fixture.login(alice)
        XCTAssertTrue(try c.command("DELE 1").hasPrefix("+OK"))
        let line = try c.readLine()
        XCTAssertTrue(line?.hasPrefix("-ERR") ?? false, "autologout is announced: \(line ?? "nil")")
        XCTAssertTrue(c.isClosedByServer())
        XCTAssertTrue(try fixture.waitUntilFree(alice))
        XCTAssertEqual(try fixture.store.mailboxInfo(alice).messageCount, 1, "autologout deletes nothing")
    }

    // RFC 2595 §2.1: plaintext refused without TLS when the policy says so; STLS not offered without a certificate.
    func testPlaintextPolicy() async throws {
        let alice = try fixture.addMailbox("alice")
        try await fixture.start { $0.plaintext = .tlsOnly }
        let c = try fixture.client(); _ = try c.readLine()
        XCTAssertTrue(try c.command("USER \(alice)").hasPrefix("-ERR [AUTH]"))
        XCTAssertTrue(try c.command("AUTH PLAIN \(Data("\0\(alice)\0secret".utf8).base64EncodedString())").hasPrefix("-ERR [AUTH]"))
        XCTAssertTrue(try c.command("STLS").hasPrefix("-ERR"), "no certificate: STLS refused")
    }

    // Graceful shutdown ends sessions without UPDATE and gives every lock back.
    func testShutdownReleasesLocks() async throws {
        let alice = try fixture.addMailbox("alice")
        try fixture.deliver("Subject: x\r\n\r\nbody\r\n", to: alice)
        try await fixture.start()
        let c = try fixture.login(alice)
        XCTAssertTrue(try c.command("DELE 1").hasPrefix("+OK"))
        await fixture.server.shutdown()
        XCTAssertEqual(try fixture.store.lockState(alice), .free)
        XCTAssertEqual(try fixture.store.mailboxInfo(alice).messageCount, 1)
        let line = try c.readLine()
        XCTAssertTrue(line == nil || line!.hasPrefix("-ERR [SYS/TEMP]"), line ?? "")
    }

    // RETR streams a large message in chunks; a client that disconnects mid-RETR leaves the lock free.
    func testLargeRetrAndDisconnectMidway() async throws {
        let alice = try fixture.addMailbox("alice")
        var big = "Subject: big\r\n\r\n"
        for i in 0..<40_000 { big += (i % 7 == 0 ? "." : "") + "line \(i) of a large message\r\n" }
        try fixture.deliver(big, to: alice)
        try await fixture.start { $0.retrieveChunkSize = 4096 }
        var c = try fixture.login(alice)
        XCTAssertTrue(try c.command("RETR 1").hasPrefix("+OK \(big.utf8.count) octets"))
        XCTAssertEqual(String(decoding: try c.readMultiline(), as: UTF8.self), big)
        _ = try c.command("QUIT")
        XCTAssertTrue(try fixture.waitUntilFree(alice))
        c = try fixture.login(alice)
        try c.send("RETR 1\r\n")
        _ = try c.readLine()
        c.abort()
        XCTAssertTrue(try fixture.waitUntilFree(alice))
    }
}
