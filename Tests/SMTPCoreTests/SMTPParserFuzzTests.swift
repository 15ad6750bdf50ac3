import TestSupport
import XCTest

@testable import SMTPCore

/// Property: the parser and the state machine are total. Any byte line (seeded random mutations of real
/// commands, RFC 5321 §4.1 / RFC 2033 §4.1) is answered: the parser returns, and a state machine that is not
/// busy or closed answers every line with an action (never `.none`, never a trap).
final class SMTPParserFuzzTests: XCTestCase {
    static let lineCount = 200_000

    static let seeds: [String] = [
        "LHLO c.test", "EHLO c.test", "HELO c.test", "MAIL FROM:<a@x.test> SIZE=10 BODY=8BITMIME", "MAIL FROM:<>",
        "MAIL FROM:<@r.test,@s.test:a@x.test>", "RCPT TO:<b@x.test>", "RCPT TO:<Bob@X.TEST>", "DATA", "RSET", "NOOP x",
        "QUIT", "VRFY b", "STARTTLS", "HELP", "MAIL FROM:<a@x.test> =", "MAIL FROM:<a@x.test> SIZE=1 SIZE=2",
    ]
    /// Bytes that matter to the grammar, and some that must be refused.
    static let special: [UInt8] = [0x3D, 0x3C, 0x3E, 0x3A, 0x40, 0x20, 0x09, 0x2D, 0x2E, 0x00, 0x0D, 0x0A, 0x7F, 0x80, 0xC3, 0xFF]

    static func mutate(_ line: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var l = line
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !l.isEmpty: l[Int.random(in: 0..<l.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 1: l.insert(special.randomElement(using: &rng) ?? 0x3D, at: Int.random(in: 0...l.count, using: &rng))
            case 2 where !l.isEmpty: l.remove(at: Int.random(in: 0..<l.count, using: &rng))
            case 3: l = Array(l.prefix(Int.random(in: 0...l.count, using: &rng)))
            case 4: l += [UInt8](repeating: special.randomElement(using: &rng) ?? 0x20, count: Int.random(in: 1...300, using: &rng))
            case 5: l += (seeds.randomElement(using: &rng) ?? "").utf8.dropFirst(Int.random(in: 0...5, using: &rng))
            default: l = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
        }
        return l
    }

    /// Drives a machine through whatever it asks, so it is never left busy.
    static func settle(_ m: inout SMTPSessionStateMachine, _ action: SMTPAction, _ rng: inout SplitMix64) {
        var action = action
        for _ in 0..<4 {
            switch action {
            case .checkRecipient:
                action = m.recipientChecked(Bool.random(using: &rng) ? SMTPReply(250, "2.1.5", "ok") : SMTPReply(550, "5.1.1", "no"))
            case .receiveData:
                action = m.dataReceived([DataOutcome.complete, .tooLarge, .bareLineEnding].randomElement(using: &rng) ?? .complete)
            case .deliver(let envelope):
                action = m.deliveryCompleted(envelope.recipients.map { _ in SMTPReply(250, "2.0.0", "ok") })
            case .startTLS:
                action = m.tlsEstablished()
            case .none, .send, .sendAll, .sendAndClose:
                return
            }
        }
    }

    func testRandomLinesAreAlwaysAnswered() {
        var rng = SplitMix64(seed: 0x5EED_5A17)
        var machines = [SMTPMode.lmtp, .smtp].map { mode in
            SMTPSessionStateMachine(configuration: SMTPSessionConfiguration(mode: mode, maxRecipients: 5, tlsAvailable: true, maxBadCommands: 1000))
        }
        for i in machines.indices { _ = machines[i].start() }
        var unanswered = 0, parsed = 0
        for _ in 0..<Self.lineCount {
            let line = Self.mutate(Array((Self.seeds.randomElement(using: &rng) ?? "").utf8), &rng)
            if case .success = SMTPCommandParser.parse(line) { parsed += 1 }
            for i in machines.indices {
                let action = machines[i].receive(line: line)
                if action == .none { unanswered += 1 }
                if case .sendAndClose = action {
                    machines[i] = SMTPSessionStateMachine(configuration: machines[i].configuration)
                    _ = machines[i].start()
                } else {
                    Self.settle(&machines[i], action, &rng)
                }
            }
        }
        XCTAssertEqual(unanswered, 0, "RFC 5321 §4.2: every command gets a reply")
        XCTAssertGreaterThan(parsed, 0, "the mutations leave some commands valid")
    }
}
