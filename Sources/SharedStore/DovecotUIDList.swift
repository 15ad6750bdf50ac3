import Foundation

/// Dovecot's `dovecot-uidlist` in a Maildir: the IMAP UID of each message file, from which Dovecot's POP3 server
/// makes its UIDLs (`DovecotUIDLFormat`). Pure: bytes in, value out (the file is read by `MaildirImport`).
///
/// Version 3 (Dovecot 1.0 and later): a header `3 V<uidvalidity> N<next uid> [G<mailbox guid>] …`, then one record
/// a line, `<uid> [<key><value> …] :<file name>`, whose extensions include `P<pop3 uidl>` (a UIDL kept from an
/// earlier migration, served instead of the format), `O<pop3 order>`, `G<guid>`, `W<virtual size>`.
/// Version 1: a header `1 <uidvalidity> <next uid>`, then `<uid> <file name>`.
public struct DovecotUIDList: Sendable, Equatable {
    public struct Record: Sendable, Equatable {
        public var uid: UInt32
        /// The file name as Dovecot recorded it: the base, without the `:2,<flags>` part.
        public var fileName: String
        public var extensions: [Character: String]
        public var pop3UIDL: String? { extensions["P"].flatMap { $0.isEmpty ? nil : $0 } }
        public var pop3Order: UInt32? { extensions["O"].flatMap { UInt32($0) } }
        public var guid: String? { extensions["G"] }
    }

    public var version: Int
    public var uidValidity: UInt32
    public var nextUID: UInt32
    public var records: [Record]

    public static func parse(_ bytes: [UInt8]) throws -> DovecotUIDList {
        guard bytes.count <= ImportLimits.maxIndexFileBytes else {
            throw StoreError(code: .tooLarge, message: "dovecot-uidlist has \(bytes.count) bytes, more than \(ImportLimits.maxIndexFileBytes)")
        }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true).makeIterator()
        func bad(_ why: String) -> StoreError { StoreError(code: .corrupt, message: "dovecot-uidlist: \(why)") }
        guard let headerBytes = lines.next() else { throw bad("empty") }
        guard headerBytes.count <= ImportLimits.maxLineBytes else { throw bad("header line longer than \(ImportLimits.maxLineBytes) bytes") }
        let header = String(decoding: headerBytes, as: UTF8.self).split(separator: " ").map(String.init)
        var list: DovecotUIDList
        switch header.first {
        case "3":
            var v: UInt32?, n: UInt32?
            for field in header.dropFirst() {
                switch field.first {
                case "V": v = UInt32(field.dropFirst())
                case "N": n = UInt32(field.dropFirst())
                default: break
                }
            }
            guard let v, let n else { throw bad("version 3 header without V<uidvalidity> and N<next uid>") }
            list = DovecotUIDList(version: 3, uidValidity: v, nextUID: n, records: [])
        case "1":
            guard header.count >= 3, let v = UInt32(header[1]), let n = UInt32(header[2]) else { throw bad("version 1 header is not `1 <uidvalidity> <next uid>`") }
            list = DovecotUIDList(version: 1, uidValidity: v, nextUID: n, records: [])
        default:
            throw bad("unsupported version \(LogSafeText.escaped(header.first ?? ""))")
        }
        var lineNumber = 1
        while let raw = lines.next() {
            lineNumber += 1
            guard raw.count <= ImportLimits.maxLineBytes else { throw bad("line \(lineNumber) longer than \(ImportLimits.maxLineBytes) bytes") }
            guard list.records.count < ImportLimits.maxMessagesPerMailbox else { throw bad("more than \(ImportLimits.maxMessagesPerMailbox) records") }
            let line = String(decoding: raw, as: UTF8.self)
            guard let space = line.firstIndex(of: " "), let uid = UInt32(line[..<space]), uid > 0 else {
                throw bad("line \(lineNumber) does not start with a UID")
            }
            let rest = line[line.index(after: space)...]
            var record = Record(uid: uid, fileName: "", extensions: [:])
            if list.version == 3 {
                // Extensions up to the first field that starts with ':', which is the file name (to the line's end).
                guard let colon = rest.range(of: " :").map({ $0.upperBound }) ?? (rest.hasPrefix(":") ? rest.index(after: rest.startIndex) : nil) else {
                    throw bad("line \(lineNumber) has no :<file name>")
                }
                let exts = rest[..<colon].dropLast(1)
                for field in exts.split(separator: " ") {
                    guard let key = field.first else { continue }
                    record.extensions[key] = String(field.dropFirst())
                }
                record.fileName = String(rest[colon...])
            } else {
                record.fileName = String(rest)
            }
            guard !record.fileName.isEmpty, !record.fileName.contains("/") else { throw bad("line \(lineNumber) has no usable file name") }
            list.records.append(record)
        }
        return list
    }
}

/// Dovecot's `pop3_uidl_format` (its var-expand syntax): `%[-][0][width][.[0][-]width][modifiers]<variable>`, where the
/// variable is `u` or `%{uid}` (the IMAP UID), `v` or `%{uidvalidity}`, `f` or `%{filename}` (the Maildir file's base
/// name), `g` or `%{guid}` (the G extension, else the base name, as Dovecot's Maildir does), `%%` a percent sign;
/// modifiers `X` (the decimal number in lowercase hex, as Dovecot's printf("%llx")), `L` lower case, `U` upper case.
/// `%m` (an MD5 of the headers) is refused: not supported here. Dovecot's default is `%08Xu%08Xv`.
public struct DovecotUIDLFormat: Sendable, Equatable {
    public static let dovecotDefault = "%08Xu%08Xv"

    enum Part: Sendable, Equatable {
        case literal(String)
        case variable(name: String, modifiers: [Character], zeroPad: Bool, width: Int, offset: Int)
    }

    public let text: String
    let parts: [Part]

    public init(_ text: String) throws {
        self.text = text
        func bad(_ why: String) -> StoreError { StoreError(code: .invalidName, message: "UIDL format \(LogSafeText.escaped(text)): \(why)") }
        guard !text.isEmpty, text.utf8.count <= 200 else { throw bad("empty or longer than 200 bytes") }
        var parts: [Part] = []
        var literal = ""
        var i = text.startIndex
        func digits() -> Int {
            var n = 0
            while i < text.endIndex, let d = text[i].wholeNumberValue, text[i].isASCII { n = n * 10 + d; i = text.index(after: i) }
            return n
        }
        while i < text.endIndex {
            let c = text[i]
            i = text.index(after: i)
            guard c == "%" else { literal.append(c); continue }
            guard i < text.endIndex else { throw bad("ends with %") }
            if text[i] == "%" { literal.append("%"); i = text.index(after: i); continue }
            var sign = 1
            if text[i] == "-" { sign = -1; i = text.index(after: i) }
            var zeroPad = false
            if i < text.endIndex, text[i] == "0" { zeroPad = true; i = text.index(after: i) }
            var width = digits()
            var offset = 0
            if i < text.endIndex, text[i] == "." {
                offset = sign * width
                sign = 1
                i = text.index(after: i)
                zeroPad = false
                if i < text.endIndex, text[i] == "0" { zeroPad = true; i = text.index(after: i) }
                if i < text.endIndex, text[i] == "-" { sign = -1; i = text.index(after: i) }
                width = sign * digits()
            }
            var modifiers: [Character] = []
            while i < text.endIndex, "XLU".contains(text[i]) { modifiers.append(text[i]); i = text.index(after: i) }
            guard i < text.endIndex else { throw bad("a variable is missing at the end") }
            var name: String
            if text[i] == "{" {
                guard let close = text[i...].firstIndex(of: "}") else { throw bad("%{ without }") }
                name = String(text[text.index(after: i)..<close])
                i = text.index(after: close)
            } else {
                name = String(text[i])
                i = text.index(after: i)
            }
            switch name {
            case "u", "uid": name = "u"
            case "v", "uidvalidity": name = "v"
            case "f", "filename": name = "f"
            case "g", "guid": name = "g"
            case "m", "md5": throw bad("%m (an MD5 of the headers) is not supported; use the UIDLs Dovecot shows instead (poplar import pop3)")
            default: throw bad("unknown variable \(LogSafeText.escaped(name)) (known: %u %v %f %g and %{uid} %{uidvalidity} %{filename} %{guid})")
            }
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
            parts.append(.variable(name: name, modifiers: modifiers, zeroPad: zeroPad, width: width, offset: offset))
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    public func expand(uid: UInt32, uidValidity: UInt32, fileName: String, guid: String?) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .variable(let name, let modifiers, let zeroPad, let width, let offset):
                var value: String
                switch name {
                case "u": value = String(uid)
                case "v": value = String(uidValidity)
                case "f": value = fileName
                default: value = guid ?? fileName
                }
                for m in modifiers {
                    switch m {
                    case "X": value = String(UInt64(value) ?? 0, radix: 16)
                    case "L": value = value.lowercased()
                    default: value = value.uppercased()
                    }
                }
                if offset < 0 {
                    if value.count > -offset { value = String(value.suffix(-offset)) }
                } else if offset > 0 {
                    value = String(value.dropFirst(offset))
                }
                if width == 0 {
                    out += value
                } else if !zeroPad {
                    let w = width < 0 ? max(0, value.count + width) : width
                    out += String(value.prefix(w))
                } else {
                    out += String(repeating: "0", count: max(0, width - value.count)) + value
                }
            }
        }
        return out
    }
}

/// Courier's `courierpop3dsizelist` in a Maildir (Courier-IMAP's pop3d, list versions 2 and 3): a header
/// `/<version> <next uid> <uidvalidity>`, then `<file name> <size> <uid>:<uidvalidity>[:<utf8>]` a line. Courier's
/// pop3d answers UIDL with `UID<uid>-<uidvalidity>` (`UID<uid>` when the uidvalidity is 0), or, for a record whose
/// uid is 0, the file's base name with bytes outside 0x21-0x7E and `'`, `"`, `+` written `+XX` (its version-0 UIDL).
public struct CourierSizeList: Sendable, Equatable {
    public struct Record: Sendable, Equatable {
        /// The file name as Courier wrote it (it may carry the `:2,<flags>` part).
        public var fileName: String
        public var uid: UInt64
        public var uidValidity: UInt64

        public var uidl: String {
            if uid != 0 { return uidValidity != 0 ? "UID\(uid)-\(uidValidity)" : "UID\(uid)" }
            var out = ""
            for b in MaildirImport.baseName(fileName).utf8 {
                if b < 0x21 || b > 0x7E || b == 0x27 || b == 0x22 || b == 0x2B {
                    let h = String(b, radix: 16, uppercase: true)
                    out += "+" + (h.count == 1 ? "0" + h : h)
                } else {
                    out += String(UnicodeScalar(b))
                }
            }
            return out
        }
    }

    public var version: Int
    public var records: [Record]

    public static func parse(_ bytes: [UInt8]) throws -> CourierSizeList {
        guard bytes.count <= ImportLimits.maxIndexFileBytes else {
            throw StoreError(code: .tooLarge, message: "courierpop3dsizelist has \(bytes.count) bytes, more than \(ImportLimits.maxIndexFileBytes)")
        }
        func bad(_ why: String) -> StoreError { StoreError(code: .corrupt, message: "courierpop3dsizelist: \(why)") }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true).makeIterator()
        guard let header = lines.next(), header.first == 0x2F, header.count <= ImportLimits.maxLineBytes else { throw bad("no /<version> header") }
        let fields = String(decoding: header.dropFirst(), as: UTF8.self).split(separator: " ")
        guard let version = fields.first.flatMap({ Int($0) }), version == 2 || version == 3 else {
            throw bad("unsupported version (Courier's pop3d reads 2 and 3)")
        }
        var list = CourierSizeList(version: version, records: [])
        var lineNumber = 1
        while let raw = lines.next() {
            lineNumber += 1
            guard raw.count <= ImportLimits.maxLineBytes else { throw bad("line \(lineNumber) longer than \(ImportLimits.maxLineBytes) bytes") }
            guard list.records.count < ImportLimits.maxMessagesPerMailbox else { throw bad("more than \(ImportLimits.maxMessagesPerMailbox) records") }
            // As Courier reads it: the last two space-separated fields are the size and uid:uidv[:utf8]; the name is
            // the rest. A line it would skip is skipped here too.
            let line = String(decoding: raw, as: UTF8.self)
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            let ids = parts[parts.count - 1].split(separator: ":")
            guard UInt64(parts[parts.count - 2]) != nil, ids.count >= 2, let uid = UInt64(ids[0]), let uidv = UInt64(ids[1]) else { continue }
            let name = parts[0..<(parts.count - 2)].joined(separator: " ")
            guard !name.isEmpty, !name.contains("/") else { continue }
            list.records.append(Record(fileName: name, uid: uid, uidValidity: uidv))
        }
        return list
    }
}
