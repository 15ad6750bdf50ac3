/// The SCRAM messages a server reads and writes (RFC 5802 §7), with no cryptography and no I/O. Every field is
/// bounded by the SASL response line (`POP3Limits.maxSASLResponseLength`); anything outside the grammar is a
/// `SCRAMError`, never a trap.
public enum SCRAMChannelBindingType: String, Sendable, CaseIterable {
    /// RFC 5929 §4: the hash of the server's certificate; valid on every TLS version.
    case tlsServerEndPoint = "tls-server-end-point"
    /// RFC 9266: the TLS 1.3 exporter with the label "EXPORTER-Channel-Binding".
    case tlsExporter = "tls-exporter"
}

/// The gs2-cbind-flag (RFC 5802 §7): what the client says about channel binding.
public enum SCRAMBindingFlag: Sendable, Equatable {
    /// "n": the client does not support channel binding.
    case unsupported
    /// "y": the client supports it but thinks the server does not.
    case clientOnly
    /// "p=<name>": the client requires this binding (the -PLUS mechanisms only).
    case required(String)
}

/// The server-error values of RFC 5802 §7 that Poplar sends (in an `e=` server-final message).
public enum SCRAMError: String, Error, Sendable, Equatable {
    case invalidEncoding = "invalid-encoding"
    case extensionsNotSupported = "extensions-not-supported"
    case invalidProof = "invalid-proof"
    case channelBindingsDontMatch = "channel-bindings-dont-match"
    case serverDoesSupportChannelBinding = "server-does-support-channel-binding"
    case channelBindingNotSupported = "channel-binding-not-supported"
    case unsupportedChannelBindingType = "unsupported-channel-binding-type"
    case invalidUsernameEncoding = "invalid-username-encoding"
    case otherError = "other-error"
}

/// client-first-message = gs2-header client-first-message-bare.
public struct SCRAMClientFirst: Sendable, Equatable {
    public var binding: SCRAMBindingFlag
    /// The authzid ("a="), unescaped; nil when absent.
    public var authorizationID: String?
    /// The user name ("n="), unescaped (",=" decoded from "=2C" and "=3D").
    public var user: String
    /// The client's nonce ("r="): printable ASCII except ",".
    public var nonce: String
    /// The gs2-header as sent, which the client repeats (base64) in the final message's "c=".
    public var gs2Header: [UInt8]
    /// client-first-message-bare as sent: the first part of the AuthMessage.
    public var bare: [UInt8]

    public init(parsing message: [UInt8]) throws(SCRAMError) {
        // gs2-header = gs2-cbind-flag "," [ authzid ] ","
        let fields = message.split(separator: 0x2C, maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { throw .invalidEncoding }
        let flag = fields[0]
        switch flag.first {
        case UInt8(ascii: "n") where flag.count == 1: binding = .unsupported
        case UInt8(ascii: "y") where flag.count == 1: binding = .clientOnly
        case UInt8(ascii: "p") where flag.count > 2 && flag[flag.startIndex + 1] == UInt8(ascii: "="):
            let name = flag.dropFirst(2)
            // cb-name = 1*(ALPHA / DIGIT / "." / "-")
            guard name.allSatisfy(Self.isCBNameByte) else { throw .invalidEncoding }
            binding = .required(String(decoding: name, as: UTF8.self))
        default: throw .invalidEncoding
        }
        if fields[1].isEmpty {
            authorizationID = nil
        } else {
            guard fields[1].starts(with: Array("a=".utf8)) else { throw .invalidEncoding }
            authorizationID = try Self.unescapeName(fields[1].dropFirst(2))
        }
        gs2Header = Array(message[message.startIndex..<fields[2].startIndex])
        bare = Array(fields[2])
        // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
        let attributes = try Self.attributes(fields[2])
        guard attributes.count >= 2 else { throw .invalidEncoding }
        if attributes[0].key == UInt8(ascii: "m") { throw .extensionsNotSupported }
        guard attributes[0].key == UInt8(ascii: "n"), attributes[1].key == UInt8(ascii: "r") else { throw .invalidEncoding }
        user = try Self.unescapeName(attributes[0].value)
        guard !user.isEmpty else { throw .invalidEncoding }
        guard Self.isNonce(attributes[1].value) else { throw .invalidEncoding }
        nonce = String(decoding: attributes[1].value, as: UTF8.self)
    }

    static func isCBNameByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2D
    }

    /// printable = %x21-2B / %x2D-7E (RFC 5802 §7).
    static func isNonce(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != 0x2C }
    }

    /// saslname (RFC 5802 §7): UTF-8 where "," is "=2C" and "=" is "=3D"; any other "=" is invalid.
    static func unescapeName(_ bytes: ArraySlice<UInt8>) throws(SCRAMError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == 0x2C || b == 0 { throw .invalidUsernameEncoding }
            if b == 0x3D {
                let code = bytes[(i + 1)...].prefix(2)
                guard code.count == 2 else { throw .invalidUsernameEncoding }
                switch (code[code.startIndex], code[code.startIndex + 1]) {
                case (UInt8(ascii: "2"), UInt8(ascii: "C")): out.append(0x2C)
                case (UInt8(ascii: "3"), UInt8(ascii: "D")): out.append(0x3D)
                default: throw .invalidUsernameEncoding
                }
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw .invalidUsernameEncoding }
        return text
    }

    /// attr-val *("," attr-val), where attr-val = ALPHA "=" value.
    static func attributes(_ bytes: ArraySlice<UInt8>) throws(SCRAMError) -> [(key: UInt8, value: ArraySlice<UInt8>)] {
        var result: [(key: UInt8, value: ArraySlice<UInt8>)] = []
        for part in bytes.split(separator: 0x2C, omittingEmptySubsequences: false) {
            guard part.count >= 2, let key = part.first, (key >= 0x41 && key <= 0x5A) || (key >= 0x61 && key <= 0x7A),
                part[part.startIndex + 1] == 0x3D
            else { throw .invalidEncoding }
            result.append((key, part.dropFirst(2)))
        }
        return result
    }
}

/// client-final-message = channel-binding "," nonce ["," extensions] "," proof.
public struct SCRAMClientFinal: Sendable, Equatable {
    /// "c=": base64 of the gs2-header and, with -PLUS, the channel binding data.
    public var channelBinding: [UInt8]
    public var nonce: String
    /// "p=": the ClientProof.
    public var proof: [UInt8]
    /// client-final-message-without-proof as sent: the last part of the AuthMessage.
    public var withoutProof: [UInt8]

    public init(parsing message: [UInt8]) throws(SCRAMError) {
        let attributes = try SCRAMClientFirst.attributes(message[...])
        guard attributes.count >= 3, attributes[0].key == UInt8(ascii: "c"), attributes[1].key == UInt8(ascii: "r"),
            let last = attributes.last, last.key == UInt8(ascii: "p")
        else { throw .invalidEncoding }
        guard let binding = SASLCodec.decode(String(decoding: attributes[0].value, as: UTF8.self)), !binding.isEmpty,
            SCRAMClientFirst.isNonce(attributes[1].value),
            let proof = SASLCodec.decode(String(decoding: last.value, as: UTF8.self))
        else { throw .invalidEncoding }
        channelBinding = binding
        nonce = String(decoding: attributes[1].value, as: UTF8.self)
        self.proof = proof
        // Everything before ",p=".
        withoutProof = Array(message[message.startIndex..<(last.value.startIndex - 3)])
    }
}

/// The server's messages.
public enum SCRAMServerMessage {
    /// server-first-message = nonce "," salt "," iteration-count.
    public static func first(nonce: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        Array("r=\(nonce),s=\(SASLCodec.encode(salt)),i=\(iterations)".utf8)
    }

    /// server-final-message = "v=" verifier.
    public static func final(signature: [UInt8]) -> [UInt8] {
        Array("v=\(SASLCodec.encode(signature))".utf8)
    }

    /// server-final-message = "e=" server-error-value.
    public static func error(_ error: SCRAMError) -> [UInt8] {
        Array("e=\(error.rawValue)".utf8)
    }
}
