import Coordinator
import Foundation
import Logging
import NIOCore
import NIOPosix
import SharedStore
import XCTest

/// The coordinator over real sockets: LMTP (RFC 2033) and SMTP (RFC 5321) clauses, quota, size limit, store
/// failure, pickup and badmail. Python smtplib, swaks and Postfix run against it in Tests/clients.
final class CoordinatorLiveTests: XCTestCase {
    var fixture: NodeFixture!
    var server: InboundServer!

    override func setUp() async throws {
        fixture = try NodeFixture()
    }

    override func tearDown() async throws {
        await server?.shutdown()
        await fixture.stop()
    }

    func start(_ configure: (inout CoordinatorConfiguration) -> Void = { _ in }) async throws {
        var c = CoordinatorConfiguration(
            lmtpListen: [try SocketAddress(ipAddress: "127.0.0.1", port: 0)],
            smtpListen: [try SocketAddress(ipAddress: "127.0.0.1", port: 0)],
            socketmapListen: [try SocketAddress(ipAddress: "127.0.0.1", port: 0)],
            hostname: "mx.test", maxMessageSize: 100_000, pickupInterval: .milliseconds(100))
        configure(&c)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = InboundServer(configuration: c, store: fixture.store, group: MultiThreadedEventLoopGroup.singleton, threadPool: fixture.threadPool, logger: logger)
        try await server.start()
    }

    func lmtp() throws -> TestClient {
        let c = try TestClient(port: server.lmtpAddresses[0].port!)
        XCTAssertTrue(try c.readLine()!.hasPrefix("220 "))
        try c.send("LHLO client.test\r\n")
        while let line = try c.readLine(), line.hasPrefix("250-") {}
        return c
    }

    func messages(_ a: MailboxAddress) throws -> [String] {
        let s = try fixture.store.openSession(a, node: "t", session: "t")
        defer { try? s.release() }
        return try s.messages.map { m in
            let h = try s.openMessage(m)
            defer { h.close() }
            return String(decoding: try h.read(at: 0, count: 1 << 20), as: UTF8.self)
        }
    }

    // RFC 2033 §4.2: one reply per accepted recipient after DATA; headers prepended; dot-unstuffed, 8-bit kept.
    func testLMTPDeliversOneCopyPerRecipient() async throws {
        let a = try fixture.addMailbox("alice"), b = try fixture.addMailbox("bob")
        try await start()
        let c = try lmtp()
        XCTAssertTrue(try c.command("MAIL FROM:<sender@else.test> BODY=8BITMIME").hasPrefix("250 2.1.0"))
        XCTAssertTrue(try c.command("RCPT TO:<alice@example.test>").hasPrefix("250 2.1.5"))
        XCTAssertEqual(try c.command("RCPT TO:<nobody@example.test>"), "550 5.1.1 no such mailbox here")
        XCTAssertTrue(try c.command("RCPT TO:<x@elsewhere.test>").hasPrefix("550 5.7.1"), "never an open relay")
        XCTAssertTrue(try c.command("RCPT TO:<Bob@Example.Test>").hasPrefix("250"))
        XCTAssertTrue(try c.command("DATA").hasPrefix("354"))
        try c.sendBytes(Array("Subject: hi\r\n\r\n..leading dot\r\n8bit: \u{e9}\r\n.\r\n".utf8))
        XCTAssertTrue(try c.readLine()!.hasPrefix("250 2.0.0 <alice@example.test>"))
        XCTAssertTrue(try c.readLine()!.hasPrefix("250 2.0.0 <Bob@Example.Test>"))
        for box in [a, b] {
            let stored = try messages(box)
            XCTAssertEqual(stored.count, 1)
            XCTAssertTrue(stored[0].hasPrefix("Return-Path: <sender@else.test>\r\nReceived: from client.test"), stored[0])
            XCTAssertTrue(stored[0].hasSuffix("\r\nSubject: hi\r\n\r\n.leading dot\r\n8bit: \u{e9}\r\n"), stored[0])
        }
        XCTAssertTrue(try c.command("QUIT").hasPrefix("221"))
    }

    // Quota at RCPT with SIZE and again at the end of DATA: 552 5.2.2; size limit 552 5.3.4.
    func testQuotaAndSizeLimit() async throws {
        let small = try fixture.addMailbox("small", quota: 300)
        _ = try fixture.addMailbox("big")
        try fixture.deliver(String(repeating: "x", count: 200) + "\r\n", to: small)
        try await start()
        let c = try lmtp()
        _ = try c.command("MAIL FROM:<s@e.test> SIZE=500")
        XCTAssertEqual(try c.command("RCPT TO:<small@example.test>"), "552 5.2.2 mailbox full")
        _ = try c.command("RSET")
        _ = try c.command("MAIL FROM:<s@e.test>")
        XCTAssertTrue(try c.command("RCPT TO:<small@example.test>").hasPrefix("250"))
        XCTAssertTrue(try c.command("RCPT TO:<big@example.test>").hasPrefix("250"))
        _ = try c.command("DATA")
        try c.send("Subject: " + String(repeating: "y", count: 200) + "\r\n.\r\n")
        XCTAssertEqual(try c.readLine(), "552 5.2.2 mailbox full", "quota checked again at the end of DATA")
        XCTAssertTrue(try c.readLine()!.hasPrefix("250"), "the other recipient got its copy")
        XCTAssertEqual(try fixture.store.mailboxInfo(small).messageCount, 1)
        XCTAssertEqual(try c.command("MAIL FROM:<s@e.test> SIZE=100001"), "552 5.3.4 message size exceeds the limit of 100000 bytes")
        _ = try c.command("MAIL FROM:<s@e.test>")
        _ = try c.command("RCPT TO:<big@example.test>")
        _ = try c.command("DATA")
        try c.send(String(repeating: String(repeating: "z", count: 999) + "\r\n", count: 120) + ".\r\n")
        XCTAssertEqual(try c.readLine(), "552 5.3.4 message too large")
        XCTAssertTrue(try c.command("NOOP").hasPrefix("250"), "the session goes on")
    }

    // Store trouble: 451 4.3.0, nothing half-delivered.
    func testStoreUnavailable() async throws {
        let a = try fixture.addMailbox("alice")
        try await start()
        let c = try lmtp()
        _ = try c.command("MAIL FROM:<s@e.test>")
        XCTAssertTrue(try c.command("RCPT TO:<alice@example.test>").hasPrefix("250"))
        _ = try c.command("DATA")
        fixture.volume.failing.withLockedValue { $0 = true }
        try c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
        XCTAssertSessionTagged(try c.readLine(), "451 4.3.0 mail store unavailable, try again later")
        _ = try c.command("MAIL FROM:<s@e.test>")
        XCTAssertSessionTagged(try c.command("RCPT TO:<alice@example.test>"), "451 4.3.0 mail store unavailable, try again later")
        fixture.volume.failing.withLockedValue { $0 = false }
        XCTAssertEqual(try fixture.store.mailboxInfo(a).messageCount, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fixture.directory + "/example.test/P3_alice.mbx/tmp"), [])
    }

    // A full disk is store trouble: 451 4.3.0, nothing half-delivered; quota already met refuses at RCPT.
    func testDiskFullAndQuotaMet() async throws {
        let a = try fixture.addMailbox("alice")
        let met = try fixture.addMailbox("met", quota: 10)
        try fixture.deliver(String(repeating: "q", count: 20), to: met)
        try await start()
        let c = try lmtp()
        _ = try c.command("MAIL FROM:<s@e.test>")
        XCTAssertEqual(try c.command("RCPT TO:<met@example.test>"), "552 5.2.2 mailbox full", "no SIZE announced, quota already met")
        XCTAssertTrue(try c.command("RCPT TO:<alice@example.test>").hasPrefix("250"))
        _ = try c.command("DATA")
        fixture.volume.diskFull.withLockedValue { $0 = true }
        try c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
        XCTAssertSessionTagged(try c.readLine(), "451 4.3.0 mail store full, try again later")
        fixture.volume.diskFull.withLockedValue { $0 = false }
        XCTAssertEqual(try fixture.store.mailboxInfo(a).messageCount, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: fixture.directory + "/example.test/P3_alice.mbx/tmp"), [])
    }

    // Bad input: a 10 MB line as a command and inside DATA, a command without line end, NUL bytes.
    func testHugeLinesAndMissingLineEnds() async throws {
        _ = try fixture.addMailbox("alice")
        try await start()
        var c = try lmtp()
        let tenMB = [UInt8](repeating: 0x41, count: 10 * 1024 * 1024)
        try c.sendBytes(tenMB + [0x0D, 0x0A])
        XCTAssertEqual(try c.readLine(), "500 5.5.6 line too long")
        XCTAssertTrue(try c.command("NOOP").hasPrefix("250"))
        _ = try c.command("MAIL FROM:<s@e.test>")
        _ = try c.command("RCPT TO:<alice@example.test>")
        _ = try c.command("DATA")
        try c.sendBytes(tenMB + Array("\r\n.\r\n".utf8))
        XCTAssertEqual(try c.readLine(), "552 5.3.4 message too large", "the size limit (100,000 here) holds for one long line")
        XCTAssertTrue(try c.command("RSET").hasPrefix("250"))
        // A command without its CRLF, then the client goes: nothing hangs, the next client is served.
        try c.send("NOOP")
        c.abort()
        c = try lmtp()
        try c.send("NOOP\n")
        XCTAssertTrue(try c.readLine()!.hasPrefix("250"), "a bare LF ends a command too")
        XCTAssertTrue(try c.command("QUIT").hasPrefix("221"))
    }

    // SMTP: one reply, all or nothing; bad input answered.
    func testSMTPAllOrNothingAndBadInput() async throws {
        let a = try fixture.addMailbox("alice")
        let full = try fixture.addMailbox("full", quota: 10)
        try await start()
        let c = try TestClient(port: server.smtpAddresses[0].port!)
        _ = try c.readLine()
        XCTAssertTrue(try c.command("DATA").hasPrefix("503"), "DATA before EHLO")
        try c.send("EHLO x\r\n")
        while let l = try c.readLine(), l.hasPrefix("250-") {}
        _ = try c.command("MAIL FROM:<s@e.test>")
        XCTAssertTrue(try c.command("DATA").hasPrefix("503"), "DATA without RCPT")
        _ = try c.command("RCPT TO:<alice@example.test>")
        _ = try c.command("RCPT TO:<full@example.test>")
        _ = try c.command("DATA")
        try c.send("Subject: x\r\n\r\n" + String(repeating: "b", count: 100) + "\r\n.\r\n")
        XCTAssertEqual(try c.readLine(), "552 5.2.2 mailbox full")
        XCTAssertEqual(try fixture.store.mailboxInfo(a).messageCount, 0, "taken back: the sender's retry cannot duplicate")
        XCTAssertEqual(try fixture.store.mailboxInfo(full).messageCount, 0)
        XCTAssertTrue(try c.command(String(repeating: "A", count: 20_000)).hasPrefix("500 5.5.6"))
        try c.sendBytes([0x4E, 0x4F, 0x00, 0x4F, 0x50, 0x0D, 0x0A])
        XCTAssertTrue(try c.readLine()!.hasPrefix("501"))
        _ = try c.command("MAIL FROM:<s@e.test>")
        // 1,001 pipelined RCPTs: the first 1,000 accepted, then 452 4.5.3 (RFC 5321 §4.5.3.1.10).
        try c.send(String(repeating: "RCPT TO:<alice@example.test>\r\n", count: 1001))
        var replies: [String] = []
        for _ in 0..<1001 { replies.append(try c.readLine() ?? "") }
        XCTAssertEqual(replies.filter { $0.hasPrefix("250") }.count, 1000)
        XCTAssertEqual(replies.last, "452 4.5.3 too many recipients")
        XCTAssertTrue(try c.command("RSET").hasPrefix("250"))
        XCTAssertTrue(try c.command("QUIT").hasPrefix("221"))
    }

    func testPickupAndBadmail() async throws {
        let a = try fixture.addMailbox("alice")
        try await start()
        let pickup = fixture.directory + "/.poplar/pickup/"
        // As the folder's contract says: write under a "." name, then rename in (a scan never sees half a file).
        func drop(_ text: String, as name: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: pickup + "." + name))
            try FileManager.default.moveItem(atPath: pickup + "." + name, toPath: pickup + name)
        }
        try drop("x-sender: <s@e.test>\r\nx-receiver: <alice@example.test>\r\nSubject: picked\r\n\r\nup\r\n", as: "m1.eml")
        try drop("Subject: no envelope\r\n\r\nx\r\n", as: "m2.eml")
        try drop("x-receiver: nobody@example.test\nSubject: y\n\nz\n", as: "m3.eml")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, (try? FileManager.default.contentsOfDirectory(atPath: pickup))?.isEmpty == false {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: pickup), [])
        let stored = try messages(a)
        XCTAssertEqual(stored.count, 1)
        XCTAssertTrue(stored.first?.hasSuffix("\r\nSubject: picked\r\n\r\nup\r\n") ?? false, "\(stored)")
        let bad = try FileManager.default.contentsOfDirectory(atPath: fixture.directory + "/.poplar/badmail").sorted()
        XCTAssertEqual(bad, ["m2.eml", "m2.eml.reason", "m3.eml", "m3.eml.reason"])
        let reason = try String(contentsOfFile: fixture.directory + "/.poplar/badmail/m3.eml.reason", encoding: .utf8)
        XCTAssertTrue(reason.contains("nobody@example.test") && reason.contains("550"), reason)
    }

    // Shutdown: an idle client is told 421 (RFC 5321 §3.8) and the listener is gone.
    func testShutdownSays421() async throws {
        try await start()
        let c = try lmtp()
        await server.shutdown()
        XCTAssertSessionTagged(try c.readLine(), "421 4.3.2 mx.test shutting down, try again later")
        XCTAssertTrue(c.isClosedByServer())
        server = nil
    }

    // Postfix socketmap lookups answered from the metabase; a domain added later is seen at once.
    func testSocketmap() async throws {
        _ = try fixture.addMailbox("alice")
        try await start()
        let c = try TestClient(port: server.socketmapAddresses[0].port!)
        func ask(_ q: String) throws -> String {
            try c.send("\(q.utf8.count):\(q),")
            var reply = ""
            while !reply.hasSuffix(",") {
                var b = [UInt8](repeating: 0, count: 1)
                guard recv(c.fd, &b, 1, 0) == 1 else { break }
                reply += String(decoding: b, as: UTF8.self)
            }
            return reply
        }
        XCTAssertEqual(try ask("domains example.test"), "15:OK example.test,")
        XCTAssertEqual(try ask("domains other.test"), "9:NOTFOUND ,")
        XCTAssertEqual(try ask("mailboxes alice@example.test"), "21:OK alice@example.test,")
        XCTAssertEqual(try ask("mailboxes bob@example.test"), "9:NOTFOUND ,")
        try fixture.store.addDomain("other.test")
        XCTAssertEqual(try ask("domains other.test"), "13:OK other.test,", "a metabase change is followed at once")
    }
}

/// A temporary failure on the coordinator's side ends with the session's id: `<expected> (session <id>)`.
func XCTAssertSessionTagged(_ line: String?, _ expected: String, file: StaticString = #filePath, line number: UInt = #line) {
    let tagged = (line ?? "").range(of: #"^(.*) \(session [0-9a-z]{1,13}\)$"#, options: .regularExpression) != nil
    XCTAssertTrue(tagged && (line ?? "").hasPrefix(expected + " (session "), "\(line ?? "nil") is not \(expected) (session …)", file: file, line: number)
}
