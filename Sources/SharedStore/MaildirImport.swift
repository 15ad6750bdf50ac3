import Foundation

/// `poplar import maildir`: the messages of one Maildir (`cur/` and `new/`), each with the UIDL its POP3 server gave
/// it. Courier: from `courierpop3dsizelist` when there is no `dovecot-uidlist` (`CourierSizeList`). Dovecot: from
/// `dovecot-uidlist` (the record's `P` extension if it has one, else `pop3_uidl_format` expanded,
/// default `%08Xu%08Xv`), in Dovecot's POP3 order (the `O` extension, else the UID). A file the uidlist does not name
/// (Dovecot never listed it, so no client knows a UIDL for it) comes after, oldest name first, with a UIDL derived
/// from its base name (`ImportItem.derivedUIDL`), so a second run finds it present. Nothing in the Maildir is written.
public enum MaildirImport {
    public struct Plan: Sendable {
        public var items: [ImportItem]
        /// Things the operator should know (uidlist records whose file is gone, no uidlist at all).
        public var notes: [String]
    }

    /// The base of a Maildir file name: up to the `:` of the info part (`:2,<flags>`).
    public static func baseName(_ name: String) -> String {
        name.firstIndex(of: ":").map { String(name[..<$0]) } ?? name
    }

    public static func plan(directory: String, format: DovecotUIDLFormat = try! DovecotUIDLFormat(DovecotUIDLFormat.dovecotDefault)) throws -> Plan {
        var files: [String: String] = [:]  // base name -> path
        var anyFolder = false
        for sub in ["cur", "new"] {
            guard let names = try ImportSourceFile.names(in: directory + "/" + sub) else { continue }
            anyFolder = true
            for name in names where !name.hasPrefix(".") {
                guard files.count < ImportLimits.maxMessagesPerMailbox else {
                    throw StoreError(code: .tooLarge, message: "\(directory) has more than \(ImportLimits.maxMessagesPerMailbox) messages")
                }
                files[baseName(name)] = directory + "/" + sub + "/" + name
            }
        }
        guard anyFolder else { throw StoreError(code: .notFound, message: "\(directory) is not a Maildir (no cur/ or new/)") }
        var notes: [String] = []
        var items: [ImportItem] = []
        var claimed = Set<String>()
        let uidlistPath = directory + "/dovecot-uidlist"
        if ImportSourceFile.regularFileSize(uidlistPath) != nil {
            let list = try DovecotUIDList.parse(try ImportSourceFile.read(uidlistPath, limit: ImportLimits.maxIndexFileBytes))
            let ordered = list.records.enumerated().sorted { a, b in
                (a.element.pop3Order ?? UInt32.max, a.offset) < (b.element.pop3Order ?? UInt32.max, b.offset)
            }.map(\.element)
            var missing = 0
            for r in ordered {
                let base = baseName(r.fileName)
                guard let path = files[base] else {
                    missing += 1
                    continue
                }
                claimed.insert(base)
                let uidl = r.pop3UIDL ?? format.expand(uid: r.uid, uidValidity: list.uidValidity, fileName: base, guid: r.guid)
                items.append(item(path: path, uidl: uidl))
            }
            if missing > 0 { notes.append("\(missing) dovecot-uidlist records name files no longer in the Maildir (expunged): nothing to import for them") }
        } else if ImportSourceFile.regularFileSize(directory + "/courierpop3dsizelist") != nil {
            // Courier's pop3d: its own UIDLs, in its order (the file names' time stamps).
            let list = try CourierSizeList.parse(try ImportSourceFile.read(directory + "/courierpop3dsizelist", limit: ImportLimits.maxIndexFileBytes))
            var missing = 0
            for r in list.records.sorted(by: { Self.arrivalOrder(baseName($0.fileName), baseName($1.fileName)) }) {
                let base = baseName(r.fileName)
                guard let path = files[base], !claimed.contains(base) else {
                    missing += 1
                    continue
                }
                claimed.insert(base)
                items.append(item(path: path, uidl: r.uidl))
            }
            notes.append("UIDLs from Courier's courierpop3dsizelist")
            if missing > 0 { notes.append("\(missing) courierpop3dsizelist records name files no longer in the Maildir: nothing to import for them") }
        } else {
            notes.append("no dovecot-uidlist or courierpop3dsizelist: every message gets a UIDL derived from its file name")
        }
        let rest = files.keys.filter { !claimed.contains($0) }.sorted(by: arrivalOrder)
        if !rest.isEmpty, !claimed.isEmpty {
            notes.append("\(rest.count) messages not in the server's list (never listed by it): UIDLs derived from their file names")
        }
        for base in rest {
            items.append(item(path: files[base]!, uidl: ImportItem.derivedUIDL(kind: "maildir", key: Array(base.utf8))))
        }
        return Plan(items: items, notes: notes)
    }

    /// Maildir names start with the delivery time in seconds: by it, then by name (as Courier's pop3d sorts).
    static func arrivalOrder(_ a: String, _ b: String) -> Bool {
        let ta = Int(a.prefix(while: { $0.isASCII && $0.isNumber }).prefix(18)) ?? 0
        let tb = Int(b.prefix(while: { $0.isASCII && $0.isNumber }).prefix(18)) ?? 0
        return (ta, a) < (tb, b)
    }

    static func item(path: String, uidl: String) -> ImportItem {
        ImportItem(label: path, uidl: uidl, size: ImportSourceFile.regularFileSize(path)) {
            try ImportSourceFile.read(path, limit: ImportLimits.maxMessageBytes)
        }
    }
}
