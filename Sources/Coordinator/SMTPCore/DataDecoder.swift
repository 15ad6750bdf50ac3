/// How a DATA section ended, for `SMTPSessionStateMachine.dataReceived(_:)`.
public enum DataOutcome: Sendable, Equatable {
    /// Read to <CRLF>.<CRLF>, within the size limit, clean line ends (or bare ones normalized).
    case complete
    /// Over the size limit: `552 5.3.4`, nothing delivered.
    case tooLarge
    /// A bare LF or bare CR was read (RFC 5321 §2.3.8) and not normalized: refused, nothing delivered.
    case bareLineEnding
}

/// Reads the DATA section (RFC 5321 §4.1.1.4, §4.5.2): removes dot-stuffing, finds the end, counts the octets
/// and, past `maxSize`, keeps reading to the end but discards, so the reply can be `552 5.3.4` without holding
/// the message. Chunks may split anywhere: the decoder goes byte by byte and keeps a pending CR or dot in its state.
///
/// SMTP smuggling (CVE-2023-51766 and kin): ONLY <CRLF>.<CRLF> ends DATA, the start of DATA counting as a line
/// start, so "." CRLF as the very first line ends an empty message. A bare LF (not after CR) or bare CR (not
/// before LF) anywhere (RFC 5321 §2.3.8: "MUST NOT recognize or generate" them as line ends) sets
/// `bareLineEnding`; reading goes on to the real end, and the state machine refuses the message. With
/// `normalizeBareLineEndings` each bare LF or CR is written as CRLF instead and the message is accepted
/// (Postfix's `smtpd_forbid_bare_newline = normalize`), but a line after a bare line end never ends DATA:
/// "\n.\n" and "\n.\r\n" are content (the lone "." kept as it is).
public struct DataDecoder: Sendable {
    enum State: Sendable, Equatable {
        /// At the start of a line; `clean`: the previous line ended with CRLF (or DATA just began).
        case lineStart(clean: Bool)
        case middle
        /// A CR was read, not yet known to be part of CRLF.
        case cr
        /// A "." at a line start.
        case dot(clean: Bool)
        /// "." CR at a line start.
        case dotCR(clean: Bool)
    }

    private var state = State.lineStart(clean: true)
    public let maxSize: Int
    public let normalizeBareLineEndings: Bool
    /// Message octets produced (including the ones discarded past `maxSize`).
    public private(set) var size = 0
    public private(set) var tooLarge = false
    /// A bare LF or bare CR was read (whether or not it was normalized).
    public private(set) var bareLineEnding = false
    public private(set) var finished = false

    public init(maxSize: Int, normalizeBareLineEndings: Bool = false) {
        self.maxSize = maxSize
        self.normalizeBareLineEndings = normalizeBareLineEndings
    }

    /// Once `finished`: what the state machine is told. Size first (nothing is kept of a message that is
    /// too large), then bare line ends (unless normalized).
    public var outcome: DataOutcome? {
        guard finished else { return nil }
        if tooLarge { return .tooLarge }
        if bareLineEnding && !normalizeBareLineEndings { return .bareLineEnding }
        return .complete
    }

    /// Decodes from `input`, appending message bytes to `output`; returns how many input bytes were used
    /// (fewer than given once the end was found: the rest belongs to the next command).
    public mutating func decode(_ input: some Collection<UInt8>, into output: inout [UInt8]) -> Int {
        var used = 0
        for byte in input {
            if finished { break }
            used += 1
            step(byte, &output)
        }
        return used
    }

    private mutating func step(_ byte: UInt8, _ output: inout [UInt8]) {
        let cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, dot: UInt8 = 0x2E
        switch state {
        case .lineStart(let clean):
            if byte == dot {
                state = .dot(clean: clean)
            } else {
                state = .middle
                step(byte, &output)
            }
        case .middle:
            if byte == cr {
                state = .cr
            } else if byte == lf {
                bareLineEnd(lf, &output)
            } else {
                emit(byte, &output)
            }
        case .cr:
            if byte == lf {
                emit(cr, &output)
                emit(lf, &output)
                state = .lineStart(clean: true)
            } else {
                bareLineEnd(cr, &output)
                step(byte, &output)
            }
        case .dot(let clean):
            if byte == cr {
                state = .dotCR(clean: clean)
            } else if byte == lf {
                // "." then a bare LF: not the end; a line of one "." is content.
                emit(dot, &output)
                bareLineEnd(lf, &output)
            } else {
                // A stuffed dot (RFC 5321 §4.5.2): drop it, keep the rest of the line.
                state = .middle
                step(byte, &output)
            }
        case .dotCR(let clean):
            if byte == lf && clean {
                finished = true
            } else if byte == lf {
                // "." CRLF after a bare line end: content, never the end.
                emit(dot, &output)
                emit(cr, &output)
                emit(lf, &output)
                state = .lineStart(clean: true)
            } else {
                // "." then a bare CR.
                emit(dot, &output)
                bareLineEnd(cr, &output)
                step(byte, &output)
            }
        }
    }

    /// A bare LF or CR: recorded; written as CRLF when normalizing, as it came otherwise (the message is
    /// refused then, but the size still counts). The next line is not a clean line start.
    private mutating func bareLineEnd(_ byte: UInt8, _ output: inout [UInt8]) {
        bareLineEnding = true
        if normalizeBareLineEndings {
            emit(0x0D, &output)
            emit(0x0A, &output)
        } else {
            emit(byte, &output)
        }
        state = .lineStart(clean: false)
    }

    private mutating func emit(_ byte: UInt8, _ output: inout [UInt8]) {
        size += 1
        if size > maxSize {
            tooLarge = true
            return
        }
        output.append(byte)
    }
}
