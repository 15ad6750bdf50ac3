import XCTest

@testable import POP3Core

/// The session on the wire: a tiny handler that executes actions into bytes, so transcripts read like RFC 1939 §10.
struct TranscriptDriver {
    var machine: POP3SessionStateMachine
    /// Message bodies by number, as stored (CRLF, not dot-stuffed).
    var bodies: [Int: String]
    var outcome: POP3AuthOutcome
    var updateResult: (([POP3Message]) -> Result<Int, POP3UpdateFailure>) = { .success($0.count) }
    var wire = ""
    var closed = false

    init(_ configuration: POP3SessionConfiguration, bodies: [Int: String], outcome: POP3AuthOutcome) {
        self.machine = POP3SessionStateMachine(configuration: configuration)
        self.bodies = bodies
        self.outcome = outcome
    }

    mutating func run(_ action: POP3Action) {
        switch action {
        case .none:
            break
        case .send(let response):
            wire += String(decoding: response.encoded(), as: UTF8.self)
        case .sendAndClose(let response):
            wire += String(decoding: response.encoded(), as: UTF8.self) + "<close>\n"
            closed = true
        case .authenticate:
            run(machine.authenticationCompleted(outcome))
        case .lookupSCRAM:
            run(machine.scramKeysLoaded(.unavailable("no keys in this transcript")))
        case .startTLS(let response):
            wire += String(decoding: response.encoded(), as: UTF8.self) + "<tls>\n"
            run(machine.tlsEstablished())
        case .retrieve(let index, let message, let top):
            wire += String(decoding: POP3Response.ok("\(message.size) octets").encoded(), as: UTF8.self)
            var streamer = MessageStreamer(topBodyLines: top)
            var out: [UInt8] = []
            streamer.process(Array((bodies[index] ?? "").utf8), into: &out)
            streamer.finish(into: &out)
            wire += String(decoding: out, as: UTF8.self)
        case .update(let deletions):
            run(machine.updateCompleted(updateResult(deletions)))
        }
    }

    mutating func start() { run(machine.start()) }

    mutating func client(_ line: String) {
        wire += "C: \(line)\r\n"
        run(machine.receive(line: Array(line.utf8)))
    }
}

final class SessionTranscriptTests: XCTestCase {
    /// RFC 1939 §10, with APOP: MD5("<1896.697170952@dbc.mtview.ca.us>tanstaaf") = c4c9334bac560ecc979e58001b3e22fb.
    /// The state machine only passes the digest and timestamp on; the handler checks them.
    func testRFC1939Section10() {
        let ts = "<1896.697170952@dbc.mtview.ca.us>"
        let messages = [POP3Message(uidl: "u1", size: 120), POP3Message(uidl: "u2", size: 200)]
        var d = TranscriptDriver(.init(apopTimestamp: ts), bodies: [1: "Subject: one\r\n\r\n.hidden\r\n", 2: "Subject: two\r\n\r\nbody"],
                                 outcome: .success(mailbox: "mrose", messages: messages))
        d.start()
        var m = d.machine
        XCTAssertEqual(m.receive(line: Array("APOP mrose c4c9334bac560ecc979e58001b3e22fb".utf8)),
                       .authenticate(.apop(user: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb", timestamp: ts)))
        for line in ["APOP mrose c4c9334bac560ecc979e58001b3e22fb", "STAT", "LIST", "RETR 1", "DELE 1", "RETR 2", "DELE 2", "QUIT"] {
            d.client(line)
        }
        XCTAssertEqual(d.wire, """
            +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r
            C: APOP mrose c4c9334bac560ecc979e58001b3e22fb\r
            +OK mrose has 2 messages (320 octets)\r
            C: STAT\r
            +OK 2 320\r
            C: LIST\r
            +OK 2 messages (320 octets)\r
            1 120\r
            2 200\r
            .\r
            C: RETR 1\r
            +OK 120 octets\r
            Subject: one\r
            \r
            ..hidden\r
            .\r
            C: DELE 1\r
            +OK message 1 deleted\r
            C: RETR 2\r
            +OK 200 octets\r
            Subject: two\r
            \r
            body\r
            .\r
            C: DELE 2\r
            +OK message 2 deleted\r
            C: QUIT\r
            +OK bye (2 messages deleted)\r
            <close>

            """)
        XCTAssertTrue(d.closed)
        m = d.machine
        XCTAssertEqual(m.phase, .closed)
    }

    /// STLS, then a fresh AUTHORIZATION over TLS with plaintext now allowed, TOP, DELE, RSET, QUIT.
    func testSTLSThenUserPassTranscript() {
        let messages = [POP3Message(uidl: "a", size: 10)]
        var d = TranscriptDriver(.init(tlsAvailable: true, plaintextAllowedWithoutTLS: false), bodies: [1: "H: 1\r\n\r\nl1\r\nl2\r\n"],
                                 outcome: .success(mailbox: "alice@example.test", messages: messages))
        d.start()
        for line in ["USER alice", "STLS", "USER alice", "PASS secret words", "TOP 1 1", "DELE 1", "RSET", "QUIT"] { d.client(line) }
        XCTAssertEqual(d.wire, """
            +OK POP3 server ready\r
            C: USER alice\r
            -ERR [AUTH] plaintext authentication disallowed without TLS (use STLS)\r
            C: STLS\r
            +OK Begin TLS negotiation\r
            <tls>
            C: USER alice\r
            +OK send PASS\r
            C: PASS secret words\r
            +OK alice@example.test has 1 message (10 octets)\r
            C: TOP 1 1\r
            +OK 10 octets\r
            H: 1\r
            \r
            l1\r
            .\r
            C: DELE 1\r
            +OK message 1 deleted\r
            C: RSET\r
            +OK maildrop has 1 message (10 octets)\r
            C: QUIT\r
            +OK bye (0 messages deleted)\r
            <close>

            """)
    }
}
