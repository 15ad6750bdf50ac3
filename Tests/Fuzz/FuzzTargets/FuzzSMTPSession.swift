import SMTPCore

/// (c) The SMTP/LMTP command parser, the DATA decoder and the session state machine, in LMTP and SMTP modes,
/// driven as `InboundSession` drives them.
///
/// Input: the first line configures (byte 0: bit 0 SMTP rather than LMTP, bit 1 STARTTLS available, bit 2 already
/// TLS, bit 3 normalize bare line ends, bits 4-7 the recipient limit 1...16; byte 1: the size limit from a table;
/// byte 2: the bad-command limit; byte 3: the DATA chunk size, 0 for one chunk). The rest is the client's stream:
/// lines (LF, CR before it stripped; over 510 octets: `lineTooLong()`), and after a 354 the raw DATA, read by
/// `DataDecoder` up to its end; what follows the end is lines again. `checkRecipient` is answered by the
/// address's last byte (accepted, refused, or a temporary failure), `deliver` by a reply per recipient chosen
/// by each address's first byte (one reply short when the sender's last byte is odd), `startTLS` with
/// `tlsEstablished()`.
public enum FuzzSMTPSession {
    static let sizes = [0, 1, 5, 16, 100, 1000, 65_536, 10_000_000]

    public static func run(_ data: [UInt8]) {
        var input = FuzzReader(data)
        let config = input.line() ?? []
        func c(_ i: Int) -> Int { i < config.count ? Int(config[i]) : 0 }
        let configuration = SMTPSessionConfiguration(
            mode: c(0) & 1 == 1 ? .smtp : .lmtp, hostname: "mx.example.test", maxMessageSize: sizes[c(1) % sizes.count],
            maxRecipients: 1 + (c(0) >> 4), tlsAvailable: c(0) & 2 != 0, isTLS: c(0) & 4 != 0,
            maxBadCommands: 1 + c(2) % 30, normalizeBareLineEndings: c(0) & 8 != 0)
        let chunkSize = c(3) % 64
        var m = SMTPSessionStateMachine(configuration: configuration)
        var closed = false
        var action = m.start()
        var envelope: SMTPEnvelope?
        while true {
            // Answer the action until the machine waits for the client.
            answering: for _ in 0..<4 {
                switch action {
                case .checkRecipient(let address, let declaredSize):
                    fuzzCheck(!address.isEmpty, "checkRecipient with an empty address")
                    if let declaredSize { fuzzCheck(declaredSize <= configuration.maxMessageSize, "SIZE over the limit accepted") }
                    action = m.recipientChecked(recipientReply(address))
                case .receiveData(let reply):
                    _ = reply.encoded()
                    action = receiveData(&m, &input, chunkSize: chunkSize)
                case .deliver(let e):
                    fuzzCheck(!e.recipients.isEmpty, "deliver without recipients")
                    fuzzCheck(Set(e.recipients.map(SMTPEnvelope.key)).count == e.recipients.count, "one mailbox twice in an envelope")
                    envelope = e
                    var replies = e.recipients.map(deliveryReply)
                    if (e.from.utf8.last ?? 0) & 1 == 1 { replies = Array(replies.dropLast()) }
                    action = m.deliveryCompleted(replies)
                case .startTLS(let reply):
                    _ = reply.encoded()
                    action = m.tlsEstablished()
                case .sendAll(let replies):
                    fuzzCheck(configuration.mode == .lmtp, "several replies in SMTP mode")
                    if let envelope { fuzzCheck(replies.count == envelope.rcptCount, "LMTP: not one reply per RCPT") }
                    for r in replies { _ = r.encoded() }
                    break answering
                case .send(let reply):
                    _ = reply.encoded()
                    break answering
                case .sendAndClose(let reply):
                    _ = reply.encoded()
                    closed = true
                    break answering
                case .none:
                    break answering
                }
            }
            envelope = nil
            if closed {
                fuzzCheck(m.receive(line: Array("NOOP".utf8)) == .none, "a closed session answered")
                return
            }
            guard let line = input.line() else { break }
            action = line.count > SMTPLimits.maxCommandLineLength ? m.lineTooLong() : m.receive(line: line)
        }
        _ = m.timedOut()
    }

    /// Reads DATA from the stream with the machine's decoder, in chunks, and checks it against a decoder fed the
    /// same bytes at once: the chunking must not change the message, the end, or the outcome.
    static func receiveData(_ m: inout SMTPSessionStateMachine, _ input: inout FuzzReader, chunkSize: Int) -> SMTPAction {
        let stream = Array(input.bytes[min(input.index, input.bytes.count)...])
        var decoder = m.makeDataDecoder()
        var output: [UInt8] = []
        var used = 0
        while used < stream.count && !decoder.finished {
            let n = chunkSize == 0 ? stream.count - used : min(chunkSize, stream.count - used)
            let u = decoder.decode(stream[used..<(used + n)], into: &output)
            fuzzCheck(u <= n, "decoder used more than it was given")
            fuzzCheck(u == n || decoder.finished, "decoder stopped before the end of a chunk without finishing")
            used += u
        }
        var whole = m.makeDataDecoder()
        var wholeOutput: [UInt8] = []
        let wholeUsed = whole.decode(stream, into: &wholeOutput)
        fuzzCheck(wholeUsed == used && wholeOutput == output && whole.outcome == decoder.outcome, "DATA depends on how it was chunked")
        fuzzCheck(output.count <= decoder.maxSize, "DATA kept more than the size limit")
        if decoder.outcome == .complete {
            fuzzCheck(!decoder.bareLineEnding || decoder.normalizeBareLineEndings, "complete with a bare line end")
            fuzzCheck(output.count == decoder.size, "size does not count the message")
            for i in output.indices where output[i] == 0x0A {
                fuzzCheck(i > 0 && output[i - 1] == 0x0D, "a complete message with a bare LF")
            }
        }
        input.index += used
        guard let outcome = decoder.outcome else {
            // The client went away inside DATA: the handler fails the DATA.
            return m.dataFailed(SMTPReply(451, "4.3.0", "connection lost"))
        }
        return m.dataReceived(outcome)
    }

    static func recipientReply(_ address: String) -> SMTPReply {
        switch (address.utf8.last ?? 0) % 4 {
        case 0, 1: return SMTPReply(250, "2.1.5", "recipient ok")
        case 2: return SMTPReply(550, "5.1.1", "no such mailbox")
        default: return SMTPReply(452, "4.2.2", "mailbox full")
        }
    }

    static func deliveryReply(_ address: String) -> SMTPReply {
        switch (address.utf8.first ?? 0) % 3 {
        case 0, 1: return SMTPReply(250, "2.0.0", "delivered")
        default: return SMTPReply(452, "4.2.2", "over quota")
        }
    }
}
