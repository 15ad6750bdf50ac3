import Foundation

/// `poplar import mbox`: the messages of one mbox file. Pure splitting over bytes (`split`), so it is tested with
/// fixture tables; `plan` maps the file read-only and makes the items.
///
/// - A message starts at a `From ` line at the start of the file or after an empty line (the separator's blank
///   line, which every mbox writer puts before it, is not part of the message before). A `From ` line inside a
///   message that does not follow an empty line is kept as text: mboxo writers that did not quote it are common.
/// - `Content-Length:` is ignored (Solaris and SysV writers put it; it is often wrong after editing); the message is
///   what lies between separators.
/// - Unquoting: mboxrd (default) turns `>From `, `>>From ` … into one `>` fewer; mboxo only `>From ` into `From `.
/// - The UIDL: the first `X-UIDL:` header of the message's header section (qpopper writes it, and served it as the
///   UIDL), if RFC 1939 allows it; the header stays in the message, as qpopper kept and served it (the size clients
///   saw included it). Without one, a UIDL derived from the message's bytes and how many identical messages came
///   before it (`ImportItem.derivedUIDL`), so a second run finds it present.
public enum MboxImport {
    public enum Quoting: String, Sendable, CaseIterable {
        case mboxrd, mboxo
    }

    public struct Message: Sendable, Equatable {
        /// The byte range of the message in the file, without its `From ` line and its separating blank line.
        public var range: Range<Int>
        /// The separator line (`From sender date`), for labels.
        public var fromLine: String
    }

    /// The messages of an mbox file, in file order. Bytes before the first `From ` line are not a message (refused:
    /// not an mbox).
    public static func split<C: RandomAccessCollection<UInt8>>(_ data: C) throws -> [Message] where C.Index == Int {
        var messages: [Message] = []
        var starts: [(lineStart: Int, bodyStart: Int)] = []
        var lineStart = data.startIndex
        var previousEmpty = true
        while lineStart < data.endIndex {
            let end = data[lineStart...].firstIndex(of: 0x0A) ?? data.endIndex
            let next = min(end + 1, data.endIndex)
            if previousEmpty, isFromLine(data, lineStart) {
                starts.append((lineStart, next))
                guard starts.count <= ImportLimits.maxMessagesPerMailbox else {
                    throw StoreError(code: .tooLarge, message: "mbox has more than \(ImportLimits.maxMessagesPerMailbox) messages")
                }
            } else if starts.isEmpty, end > lineStart {
                throw StoreError(code: .corrupt, message: "not an mbox file: it does not start with a `From ` line")
            }
            let lineEnd = end > lineStart && data[end - 1] == 0x0D ? end - 1 : end
            previousEmpty = lineEnd == lineStart
            lineStart = next
        }
        for (i, s) in starts.enumerated() {
            var end = i + 1 < starts.count ? starts[i + 1].lineStart : data.endIndex
            // The separator's blank line (LF or CRLF) before the next `From `, or at the end of the file.
            if end > s.bodyStart, data[end - 1] == 0x0A {
                var e = end - 1
                if e > s.bodyStart, data[e - 1] == 0x0D { e -= 1 }
                if e == s.bodyStart || data[e - 1] == 0x0A { end = e }
            }
            let fromEnd = s.bodyStart > s.lineStart && data[s.bodyStart - 1] == 0x0A ? s.bodyStart - 1 : s.bodyStart
            let from = String(decoding: data[s.lineStart..<min(fromEnd, s.lineStart + 200)], as: UTF8.self)
            messages.append(Message(range: s.bodyStart..<max(end, s.bodyStart), fromLine: from.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return messages
    }

    static func isFromLine<C: RandomAccessCollection<UInt8>>(_ data: C, _ at: Int) -> Bool where C.Index == Int {
        at + 5 <= data.endIndex && data[at] == 0x46 && data[at + 1] == 0x72 && data[at + 2] == 0x6F && data[at + 3] == 0x6D && data[at + 4] == 0x20
    }

    /// The message's bytes with `From ` quoting removed.
    public static func unquote(_ bytes: some Collection<UInt8>, _ quoting: Quoting) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var atLineStart = true
        let data = Array(bytes)
        var i = 0
        while i < data.count {
            if atLineStart, data[i] == 0x3E {
                var j = i
                while j < data.count, data[j] == 0x3E { j += 1 }
                let depth = j - i
                if isFromLine(data, j), quoting == .mboxrd || depth == 1 {
                    i += 1  // drop one '>'
                }
            }
            let b = data[i]
            out.append(b)
            atLineStart = b == 0x0A
            i += 1
        }
        return out
    }

    /// The first `X-UIDL:` value of the header section (up to the first empty line), unfolded and trimmed; nil if
    /// none, or if it is not a UIDL RFC 1939 allows.
    public static func xUIDL(_ message: some Collection<UInt8>) -> String? {
        var lineStart = message.startIndex
        var scanned = 0
        while lineStart < message.endIndex, scanned < 1024 {
            scanned += 1
            let end = message[lineStart...].firstIndex(of: 0x0A) ?? message.endIndex
            var line = Array(message[lineStart..<end])
            if line.last == 0x0D { line.removeLast() }
            if line.isEmpty { return nil }
            if line.count <= ImportLimits.maxLineBytes, line.count > 7,
                String(decoding: line.prefix(7), as: UTF8.self).lowercased() == "x-uidl:" {
                let value = String(decoding: line.dropFirst(7), as: UTF8.self).trimmingCharacters(in: .whitespaces)
                return MessageNamer.isValidUIDL(value) ? value : nil
            }
            guard end < message.endIndex else { return nil }
            lineStart = message.index(after: end)
        }
        return nil
    }

    public struct Plan: Sendable {
        public var items: [ImportItem]
        public var notes: [String]
    }

    public static func plan(file path: String, quoting: Quoting = .mboxrd) throws -> Plan {
        guard ImportSourceFile.regularFileSize(path) != nil else {
            throw StoreError(code: .notFound, message: "\(path) is not a regular file")
        }
        // Mapped read-only: the file is never written, and a large mbox costs no memory.
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw StoreError(code: .notFound, message: "cannot read \(path): \(error.localizedDescription)")
        }
        let messages = try split(data)
        var items: [ImportItem] = []
        var occurrences: [String: Int] = [:]
        var derived = 0
        for (n, m) in messages.enumerated() {
            let label = "\(path) message \(n + 1) (\(LogSafeText.escaped(m.fromLine, limit: 60)))"
            let range = m.range
            guard range.count <= ImportLimits.maxMessageBytes else {
                // Refused at import (too large) and reported there; the others go on.
                items.append(ImportItem(label: label, uidl: ImportItem.derivedUIDL(kind: "mbox-too-large", key: Array("\(n)".utf8)), size: Int64(range.count)) {
                    throw StoreError(code: .tooLarge, message: "\(range.count) bytes, more than the import limit of \(ImportLimits.maxMessageBytes)")
                })
                continue
            }
            let uidl: String
            if let x = xUIDL(data[range]) {
                uidl = x
            } else {
                derived += 1
                let content = ImportItem.derivedUIDL(kind: "mbox-content", key: unquote(data[range], quoting))
                let seen = occurrences[content, default: 0]
                occurrences[content] = seen + 1
                uidl = ImportItem.derivedUIDL(kind: "mbox", key: Array("\(content)#\(seen)".utf8))
            }
            // Unquoted again when imported: a large mbox is never held in memory whole.
            items.append(ImportItem(label: label, uidl: uidl, size: Int64(range.count)) { unquote(data[range], quoting) })
        }
        var notes: [String] = []
        if derived > 0 { notes.append("\(derived) of \(messages.count) messages have no X-UIDL header: UIDLs derived from their content") }
        return Plan(items: items, notes: notes)
    }
}
