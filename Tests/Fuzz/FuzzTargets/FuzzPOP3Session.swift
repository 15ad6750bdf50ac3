import POP3Core

/// (a) The POP3 command parser and the session state machine, driven as `POP3Session` drives them.
///
/// Input: the first line configures the session (byte 0: bit 0 CRAM-MD5 and NTLM, bit 1 STLS available, bit 2 already TLS,
/// bit 3 plaintext refused without TLS, bit 4 APOP timestamp, bit 5 IMPLEMENTATION, bit 6 end with the idle timer
/// rather than a shutdown, bit 7 SCRAM; byte 1: the bad-command limit, 1...32). Every further line is one client line, framed as
/// the LineFramer frames it: over `maxLineLength` (255 octets; 4096 during AUTH; 4160
/// for an AUTH line in AUTHORIZATION) it is `lineTooLong()`. Each action is answered:
/// `.authenticate` with an outcome chosen by the last byte of the line that asked (success with messages made from
/// that line, or each failure), `.retrieve` by streaming a message made of the next lines (up to 8) through `MessageStreamer`,
/// `.update` with success or failure, `.startTLS` with `tlsEstablished()`. After UTF8 (RFC 6856), a password login's
/// user name and password must already be what RFC 8265's profiles make of them.
public enum FuzzPOP3Session {
    public static func run(_ data: [UInt8]) {
        var lines = fuzzLines(data)[...]
        let config = lines.popFirst() ?? []
        let flags = config.first ?? 0
        let maxBad = 1 + Int(config.dropFirst().first ?? 9) % 32
        var c = POP3SessionConfiguration(
            apopTimestamp: flags & 0x10 != 0 ? "<1896.697170952@dbc.mtview.ca.us>" : nil,
            cramChallenge: "<42.1@host>",
            cramMD5Enabled: flags & 0x01 != 0,
            scramEnabled: flags & 0x80 != 0,
            scramNonce: "srvnonce",
            channelBindings: flags & 0x04 != 0 ? [.tlsServerEndPoint: Array(repeating: 7, count: 32)] : [:],
            oauthEnabled: flags & 0x80 != 0,
            ntlmEnabled: flags & 0x01 != 0,
            tlsAvailable: flags & 0x02 != 0,
            isTLS: flags & 0x04 != 0,
            plaintextAllowedWithoutTLS: flags & 0x08 == 0,
            implementation: flags & 0x20 != 0 ? "Poplar" : nil,
            maxBadCommands: maxBad)
        c.greeting = "POP3 server ready"
        var m = POP3SessionStateMachine(configuration: c)
        var messages: [POP3Message] = []
        check(m.start(), &m)
        for (n, line) in lines.enumerated() {
            if m.phase == .closed { break }
            let limit = m.maxLineLength
            var action = line.count > limit ? m.lineTooLong() : m.receive(line: line)
            // Answer until the machine waits for the client again (each answer is one step; a bound keeps it finite).
            for _ in 0..<4 {
                check(action, &m)
                switch action {
                case .authenticate:
                    fuzzCheck(m.phase == .authenticating, ".authenticate outside AUTHENTICATING")
                    if m.isUTF8, case .authenticate(.password(let user, let password)) = action {
                        // RFC 6856 §2 with RFC 8265: prepared credentials; RFC 8264 §7: a profile applied twice changes nothing.
                        fuzzCheck(PRECISUsernameCasePreserved.enforce(user) == user && PRECISOpaqueString.enforce(password) == password,
                                  "a credential after UTF8 is not stable under its PRECIS profile")
                    }
                    let outcome = authOutcome(line)
                    if case .success(_, let list) = outcome { messages = list }
                    action = m.authenticationCompleted(outcome)
                    continue
                case .retrieve(let index, let message, let top):
                    fuzzCheck(m.phase == .transaction, ".retrieve outside TRANSACTION")
                    fuzzCheck(index >= 1 && index <= messages.count && messages[index - 1] == message, ".retrieve of a message not in the list")
                    // The stored message: the lines after this one (any bytes; "|" is LF, "~" is CR).
                    let message = lines.dropFirst(n + 1).prefix(8).joined(separator: [0x0D, 0x0A])
                    stream(Array(message), topBodyLines: top)
                case .update(let deletions):
                    fuzzCheck(m.phase == .update, ".update outside UPDATE")
                    fuzzCheck(deletions.allSatisfy { messages.contains($0) }, "deletion of a message not in the list")
                    let failed = (line.last ?? 0) & 1 == 1
                    action = m.updateCompleted(failed ? .failure(POP3UpdateFailure(message: "store unavailable")) : .success(deletions.count))
                    continue
                case .startTLS:
                    action = m.tlsEstablished(channelBindings: [.tlsServerEndPoint: Array(repeating: 7, count: 32)])
                    continue
                case .lookupSCRAM:
                    fuzzCheck(m.phase == .authenticating, ".lookupSCRAM outside AUTHENTICATING")
                    action = m.scramKeysLoaded((line.last ?? 0) & 1 == 0 ? .keys(fuzzSCRAMKeys) : .unavailable("store unavailable"))
                    continue
                case .none, .send, .sendAndClose:
                    break
                }
                break
            }
        }
        check(flags & 0x40 != 0 ? m.timedOut() : m.shuttingDown(), &m)
        fuzzCheck(m.phase == .closed, "not closed after the end")
    }

    /// Encodes every reply (as the handler does) and checks the close contract.
    static func check(_ action: POP3Action, _ m: inout POP3SessionStateMachine) {
        switch action {
        case .send(let r), .startTLS(let r):
            let bytes = r.encoded()
            fuzzCheck(bytes.suffix(2) == [0x0D, 0x0A], "a reply without CRLF")
        case .sendAndClose(let r):
            _ = r.encoded()
            fuzzCheck(m.phase == .closed, ".sendAndClose but the session is not closed")
        case .none, .authenticate, .retrieve, .update, .lookupSCRAM:
            break
        }
    }

    /// The handler's verdict, chosen by the line's last byte; success lists messages made from the line.
    static func authOutcome(_ line: [UInt8]) -> POP3AuthOutcome {
        let selector = Int(line.last ?? 0)
        switch selector % 10 {
        case 0, 1, 2, 3:
            let count = line.count % 6
            let list = (0..<count).map { i in
                POP3Message(uidl: i == 3 ? ".dotted-uidl" : String(repeating: "0", count: 25) + String(i + 1),
                            size: Int64(line[i % max(1, line.count)]) * 97 + Int64(i))
            }
            return .success(mailbox: "alice@example.test", messages: list)
        case 4: return .badCredentials
        case 5: return .inUse("mailbox in use on node-a")
        case 6: return .adminLocked
        case 7: return .temporaryFailure("store unavailable")
        case 8: return .plaintextDisallowed
        default: return .mechanismDisallowed
        }
    }

    /// RETR/TOP: the message ("|" is LF, "~" is CR, so bare ones can be written), streamed in two chunks; the
    /// output must be a valid POP3 multi-line body: CRLF line ends only, and "CRLF.CRLF" only at its end.
    static func stream(_ stored: [UInt8], topBodyLines: Int?) {
        let message = stored.map { $0 == 0x7C ? 0x0A : $0 == 0x7E ? 0x0D : $0 }
        var streamer = MessageStreamer(topBodyLines: topBodyLines)
        var out: [UInt8] = [0x0D, 0x0A]  // the status line's end
        let cut = message.count / 2
        streamer.process(message[..<cut], into: &out)
        streamer.process(message[cut...], into: &out)
        streamer.finish(into: &out)
        fuzzCheck(out.suffix(5) == [0x0D, 0x0A, 0x2E, 0x0D, 0x0A], "body does not end with CRLF.CRLF")
        for i in out.indices where out[i] == 0x0A {
            fuzzCheck(i > 0 && out[i - 1] == 0x0D, "bare LF in a RETR body")
        }
        let body = out.dropLast(3)
        for i in body.indices.dropLast(4) where body[i] == 0x0D && body[i + 1] == 0x0A && body[i + 2] == 0x2E && body[i + 3] == 0x0D && body[i + 4] == 0x0A {
            fuzzCheck(false, "a line \".\" inside a RETR body ends it early")
        }
    }
}
