import Foundation

/// `poplar import win2003`: a Windows Server 2003 POP3 mail root copied as is (the seed's layout: one folder per
/// domain, `P3_<mailbox>.mbx` folders, one `P3_<…>.eml` file per message). Poplar's own layout is that one, so each
/// message keeps the UIDL the file name gives it (between `P3_` and `.eml`: the 26 digits); names sort as arrival.
/// The `lock` file (which may hold the old server's password hash) and `quota` are not read: passwords come from a
/// CSV (`poplar import win2003 --passwords`). Nothing in the mail root is written.
public enum Win2003Import {
    public struct Mailbox: Sendable {
        public var address: MailboxAddress
        public var items: [ImportItem]
    }

    public struct Plan: Sendable {
        public var mailboxes: [Mailbox]
        /// Folders and files skipped, and why.
        public var notes: [String]
    }

    /// The UIDL of a message file: the name without `P3_` and `.eml`, if RFC 1939 allows it.
    public static func uidl(ofFile name: String) -> String? {
        guard name.hasPrefix("P3_"), name.lowercased().hasSuffix(".eml"), name.utf8.count > 7 else { return nil }
        let u = String(name.dropFirst(3).dropLast(4))
        return MessageNamer.isValidUIDL(u) ? u : nil
    }

    public static func plan(mailRoot: String) throws -> Plan {
        guard let domains = try ImportSourceFile.names(in: mailRoot) else {
            throw StoreError(code: .notFound, message: "no mail root at \(mailRoot)")
        }
        var plan = Plan(mailboxes: [], notes: [])
        for domainName in domains where !domainName.hasPrefix(".") {
            let domainPath = mailRoot + "/" + domainName
            guard let boxes = try? ImportSourceFile.names(in: domainPath) else { continue }  // a file at the top
            let domain: String
            do {
                domain = try Names.validateDomain(domainName.lowercased())
            } catch let e as StoreError {
                plan.notes.append("\(domainPath): skipped, not a domain name Poplar accepts (\(e.message))")
                continue
            }
            for boxName in boxes where boxName.hasPrefix("P3_") && boxName.lowercased().hasSuffix(".mbx") {
                let boxPath = domainPath + "/" + boxName
                let address: MailboxAddress
                do {
                    address = try MailboxAddress(mailbox: String(boxName.dropFirst(3).dropLast(4)).lowercased(), domain: domain)
                } catch let e as StoreError {
                    plan.notes.append("\(boxPath): skipped, not a mailbox name Poplar accepts (\(e.message))")
                    continue
                }
                guard let files = try? ImportSourceFile.names(in: boxPath) else { continue }
                var items: [ImportItem] = []
                for file in files where file.hasPrefix("P3_") && file.lowercased().hasSuffix(".eml") {
                    let path = boxPath + "/" + file
                    guard let size = ImportSourceFile.regularFileSize(path) else { continue }
                    guard let uidl = uidl(ofFile: file) else {
                        plan.notes.append("\(path): its name gives no UIDL RFC 1939 allows: imported with one derived from the name")
                        items.append(ImportItem(label: path, uidl: ImportItem.derivedUIDL(kind: "win2003", key: Array(file.utf8)), size: size) {
                            try ImportSourceFile.read(path, limit: ImportLimits.maxMessageBytes)
                        })
                        continue
                    }
                    items.append(ImportItem(label: path, uidl: uidl, size: size) {
                        try ImportSourceFile.read(path, limit: ImportLimits.maxMessageBytes)
                    })
                    guard items.count <= ImportLimits.maxMessagesPerMailbox else {
                        throw StoreError(code: .tooLarge, message: "\(boxPath) has more than \(ImportLimits.maxMessagesPerMailbox) messages")
                    }
                }
                plan.mailboxes.append(Mailbox(address: address, items: items))
            }
        }
        plan.mailboxes.sort { $0.address.description < $1.address.description }
        return plan
    }
}
