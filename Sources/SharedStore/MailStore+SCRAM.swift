/// A mailbox's SCRAM-SHA-256 keys (`SCRAMSecret`), in the file `scram` beside `passwd`: written with every password
/// (`createMailbox`, `setPassword`) and, for a record written before SCRAM existed, after the next password login.
extension MailStore {
    static let scramName = "scram"

    /// The keys of a mailbox; nil when it has none that belong to its current password record (none yet, an external
    /// mailbox, keys of an older password, another GUID). Two reads: the record (for the binding) and the keys.
    public func scramSecret(_ address: MailboxAddress) throws -> SCRAMSecret? {
        let dir = try mailboxDir(address)
        let record: PasswordRecord
        let bytes: [UInt8]
        do {
            record = try passwordRecord(address)
            bytes = try volume.readAll(try dir.appending(Self.scramName), limit: 4096)
        } catch let e as StoreError where e.code == .notFound || e.code == .corrupt {
            return nil
        }
        guard let key = guid(for: record) else { return nil }
        return SCRAMSecret.decode(bytes, address: address, phc: record.phc, guid: key)
    }

    /// Writes keys made from `password` for `record` (just verified, or just written). A password that SASLprep
    /// refuses gets no keys (and any old ones are removed).
    func writeSCRAM(_ address: MailboxAddress, password: String, record: PasswordRecord) throws {
        let dir = try mailboxDir(address)
        let path = try dir.appending(Self.scramName)
        guard let rounds = PasswordHasher.parse(record.phc)?.rounds,
            let secret = try SCRAMSecret.make(password: password, iterations: rounds)
        else {
            try volume.unlinkChecked(path)
            return
        }
        guard let key = guid(for: record) else { return }
        try volume.writeAtomically(path, try secret.encoded(address: address, phc: record.phc, guid: key), staging: try dir.appending("tmp"))
    }

    /// After a password login into a mailbox whose keys are missing or stale: adds them. The keys are bound to the
    /// record the password was checked against, so a write that races a password change leaves keys that do not open.
    public func addSCRAMIfMissing(_ address: MailboxAddress, password: String, record: PasswordRecord) throws -> Bool {
        guard try scramSecret(address) == nil else { return false }
        try writeSCRAM(address, password: password, record: record)
        return true
    }
}
