import POP3Core

/// (b) The SASL decoders: strict base64 (`SASLCodec`) against a reference decoder, and the AUTH exchanges of the
/// state machine (PLAIN with and without an initial response, LOGIN, CRAM-MD5, SCRAM-SHA-256 with and without
/// -PLUS, cancel, "=").
///
/// Input: byte 0 chooses the exchange (bits 0-2, below; 0x08 the login succeeds, 0x10 CRAM-MD5 off, 0x20 plaintext
/// refused, both: the SCRAM keys are unavailable; bits 6-7 the bad-command limit); the rest, split at LF, is the
/// client's responses. SCRAM with an initial response, OAUTHBEARER, XOAUTH2 and NTLM come through 5, "AUTH <line>".
public enum FuzzSASL {
    public static func run(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let rest = Array(data.dropFirst())
        codec(rest)
        let responses = fuzzLines(rest)
        var m = POP3SessionStateMachine(configuration: POP3SessionConfiguration(
            cramChallenge: "<42.1@host>", cramMD5Enabled: selector & 0x10 == 0, scramEnabled: true, scramNonce: "srvnonce",
            channelBindings: [.tlsServerEndPoint: Array(repeating: 7, count: 32)], oauthEnabled: true, ntlmEnabled: true, isTLS: selector & 0x07 == 7,
            plaintextAllowedWithoutTLS: selector & 0x20 == 0, maxBadCommands: 1 + Int(selector >> 6) * 3))
        _ = m.start()
        var first: [UInt8]
        var queue = responses[...]
        switch selector & 0x07 {
        case 0: first = Array("AUTH PLAIN".utf8)
        case 1: first = Array("AUTH PLAIN ".utf8) + (queue.popFirst() ?? [])
        case 2: first = Array("AUTH LOGIN".utf8)
        case 3: first = Array("AUTH LOGIN ".utf8) + (queue.popFirst() ?? [])
        case 4: first = Array("AUTH CRAM-MD5".utf8)
        case 6: first = Array("AUTH SCRAM-SHA-256".utf8)
        case 7: first = Array("AUTH SCRAM-SHA-256-PLUS".utf8)
        default: first = Array("AUTH ".utf8) + (queue.popFirst() ?? [])
        }
        var action = m.receive(line: first)
        while true {
            switch action {
            case .authenticate(let credentials):
                fuzzCheck(m.phase == .authenticating, ".authenticate outside AUTHENTICATING")
                check(credentials)
                action = m.authenticationCompleted(selector & 0x08 == 0 ? .badCredentials : .success(mailbox: "alice@example.test", messages: []))
                continue
            case .lookupSCRAM(let user):
                fuzzCheck(m.phase == .authenticating, ".lookupSCRAM outside AUTHENTICATING")
                fuzzCheck(!user.isEmpty, "SCRAM lookup of an empty user")
                action = m.scramKeysLoaded(selector & 0x30 != 0x30 ? .keys(fuzzSCRAMKeys) : .unavailable("store unavailable"))
                continue
            case .send(let r), .sendAndClose(let r), .startTLS(let r):
                _ = r.encoded()
            case .none, .retrieve, .update:
                break
            }
            guard m.isAwaitingSASLResponse, let next = queue.popFirst() else { break }
            action = next.count > POP3Limits.maxSASLResponseLength ? m.lineTooLong() : m.receive(line: next)
        }
    }

    /// What the decoders hand to the authenticator: PLAIN's authcid is never empty; CRAM-MD5's digest is lowercase.
    static func check(_ credentials: POP3Credentials) {
        switch credentials {
        case .password(let user, _):
            _ = user
        case .cramMD5(let user, let digest, let challenge):
            fuzzCheck(!user.isEmpty, "CRAM-MD5 with an empty user")
            fuzzCheck(digest == digest.lowercased(), "CRAM-MD5 digest not lowercased")
            fuzzCheck(challenge == "<42.1@host>", "CRAM-MD5 with another challenge")
        case .apop:
            fuzzCheck(false, "APOP out of an AUTH exchange")
        case .scram(let user, _):
            fuzzCheck(!user.isEmpty, "SCRAM with an empty user")
        case .ntlm(let user, _, let challenge, let response):
            fuzzCheck(!user.isEmpty, "NTLM with an empty user")
            fuzzCheck(challenge.count == 8 && response.count >= 44, "NTLM: a short challenge or an NTLMv1 response passed on")
        case .bearer(let user, let token):
            fuzzCheck(user.map { !$0.isEmpty } ?? true, "a bearer login naming an empty user")
            fuzzCheck(!token.isEmpty && token.utf8.count <= POP3Limits.maxSASLResponseLength, "a bearer token empty or too long")
        }
    }

    /// `SASLCodec.decode` agrees with a reference strict decoder (RFC 4648 §4, padding required, nothing outside
    /// the alphabet), and `decode(encode(x)) == x`.
    static func codec(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let decoded = SASLCodec.decode(text)
        let expected = text.utf8.count <= POP3Limits.maxSASLResponseLength ? referenceDecode(Array(text.utf8)) : nil
        fuzzCheck(decoded == expected, "SASLCodec.decode disagrees with the reference on \(Array(text.utf8).prefix(64))")
        let raw = Array(bytes.prefix(3000))
        fuzzCheck(SASLCodec.decode(SASLCodec.encode(raw)) == raw, "base64 round trip")
    }

    static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x41...0x5A: return c - 0x41
        case 0x61...0x7A: return c - 0x61 + 26
        case 0x30...0x39: return c - 0x30 + 52
        case 0x2B: return 62
        case 0x2F: return 63
        default: return nil
        }
    }

    /// Strict base64: length a multiple of 4, "=" only as the last one or two characters. Bits left over in the
    /// last group are ignored (as Foundation does).
    static func referenceDecode(_ s: [UInt8]) -> [UInt8]? {
        if s.isEmpty { return [] }
        guard s.count % 4 == 0 else { return nil }
        let pad = s.reversed().prefix { $0 == 0x3D }.count
        guard pad <= 2 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < s.count {
            let group = s[i..<(i + 4)]
            let isLast = i + 4 == s.count
            let p = isLast ? pad : 0
            var v: [UInt8] = []
            for c in group.prefix(4 - p) {
                guard let x = value(c) else { return nil }
                v.append(x)
            }
            out.append(v[0] << 2 | v[1] >> 4)
            if v.count > 2 { out.append(v[1] << 4 | v[2] >> 2) }
            if v.count > 3 { out.append(v[2] << 6 | v[3]) }
            i += 4
        }
        return out
    }
}

/// Keys for the fuzzers' SCRAM exchanges (a fixed salted password: no fuzzed proof is expected to match).
let fuzzSCRAMKeys = SCRAMServerKeys.keys(saltedPassword: Array(repeating: 0x5A, count: 32), salt: Array("saltsaltsaltsalt".utf8), iterations: 4096)
