import Foundation

/// One message being delivered to one mailbox: streamed into `tmp/`, bare LF turned into CRLF across chunk
/// boundaries (a CR not followed by LF is kept), 8-bit clean, no dot-unstuffing. `finish` makes it durable and
/// puts it in place with `link()` (never replacing a message), so no reader ever sees half of it.
// @unchecked Sendable: one delivery is written by one thread at a time (appends, then finish or abort).
public final class DeliveryWriter: @unchecked Sendable {
    private let store: MailStore
    private let address: MailboxAddress
    private let dir: StorePath
    private var tmp: StorePath
    private let namer: MessageNamer
    /// The UIDL another server gave this message (`poplar import`): kept in its name, served instead of the digits.
    private let keptUIDL: String?
    private var handle: (any VolumeWriteHandle)?
    private var lastWasCR = false
    public private(set) var size: Int64 = 0
    private var done = false

    init(store: MailStore, address: MailboxAddress, keptUIDL: String? = nil) throws {
        if let keptUIDL, !MessageNamer.isValidUIDL(keptUIDL) {
            throw StoreError(code: .invalidName, message: "not a UIDL (RFC 1939: 1 to 70 characters 0x21-0x7E): \(LogSafeText.escaped(keptUIDL))")
        }
        self.store = store
        self.address = address
        self.keptUIDL = keptUIDL
        self.dir = try store.mailboxDir(address)
        guard try store.mailboxPresent(dir) else {
            throw StoreError(code: .notFound, message: "no mailbox \(address)")
        }
        self.namer = try store.messageNamer()
        self.tmp = try dir.appending("tmp").appending("\(namer.next()).\(String(UInt64.random(in: 0...UInt64.max), radix: 16))")
        self.handle = try store.volume.createFile(tmp, exclusive: true)
    }

    public func write(_ bytes: [UInt8]) throws {
        guard let handle, !done else { throw StoreError(code: .io, message: "delivery already finished") }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 16 + 2)
        for b in bytes {
            if b == 0x0A && !lastWasCR { out.append(0x0D) }
            out.append(b)
            lastWasCR = b == 0x0D
        }
        do {
            try handle.write(out)
        } catch {
            abort()
            throw error
        }
        size += Int64(out.count)
    }

    /// Durable and visible on return; `quotaExceeded` (nothing left behind) if over the mailbox's quota.
    public func finish(enforceQuota: Bool) throws -> MessageInfo {
        guard let handle, !done else { throw StoreError(code: .io, message: "delivery already finished") }
        do {
            try handle.fsync()
            try handle.close()
            self.handle = nil
            if enforceQuota { try checkQuota() }
            let info = try linkIntoPlace()
            try store.volume.fsyncDirectory(dir)
            try? store.volume.unlink(tmp)
            done = true
            return info
        } catch {
            abort()
            throw error
        }
    }

    /// Readiness marks older than this are a crashed writer's: not counted (fsck removes them).
    static let staleReadyNanoseconds: Int64 = 600 * 1_000_000_000

    /// The quota, also under concurrent deliveries: never exceeded. The complete message is first renamed to
    /// `tmp/<name>.ready`; then `tmp/` is listed, and only then the mailbox: the messages, every other ready delivery
    /// and this one must fit. Of the deliveries kept, take the one whose `tmp/` listing came last: every other kept
    /// one was ready before that listing (it was ready before its own) and stays ready until after its link, so that
    /// delivery counted it either as ready or, linked since, in the mailbox's listing that follows. What is kept
    /// therefore fits. Listing the other way round would miss one that links between the two listings (the test
    /// finds it). One that fits alone but not beside the others is refused for now (`quotaContended`: 452, the MTA
    /// retries), not bounced.
    private func checkQuota() throws {
        guard let quota = try store.quota(dir) else { return }
        let ready = try dir.appending("tmp").appending(tmp.components.last! + ".ready")
        try store.volume.renameChecked(tmp, to: ready)
        tmp = ready
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let others = try store.volume.list(try dir.appending("tmp")).filter {
            $0.name.hasSuffix(".ready") && $0.name != ready.components.last! && now - $0.attributes.modifiedNanoseconds < Self.staleReadyNanoseconds
        }.reduce(Int64(0)) { $0 + $1.attributes.size }
        let used = MailStore.messages(in: try store.volume.list(dir)).reduce(Int64(0)) { $0 + $1.size }
        guard used + size <= quota else {
            throw StoreError(code: .quotaExceeded, message: "mailbox \(address) is over its quota (\(used) + \(size) > \(quota) bytes)")
        }
        guard used + others + size <= quota else {
            throw StoreError(code: .quotaContended,
                             message: "mailbox \(address): \(used) + \(others) being delivered + \(size) > \(quota) bytes, try again")
        }
    }

    private func linkIntoPlace() throws -> MessageInfo {
        let tmpID = try store.volume.stat(tmp).fileID
        for _ in 0..<100 {
            let stamp = namer.next()
            let name = MessageNamer.messageName(stamp: stamp, keptUIDL: keptUIDL)
            let uidl = keptUIDL ?? stamp
            let target = try dir.appending(name)
            do {
                try store.volume.link(tmp, to: target)
                return MessageInfo(uidl: uidl, size: size, fileName: name)
            } catch let error as StoreError {
                // After an error the names decide: if the target is our file, the link happened (a lost reply).
                if let attributes = try? store.volume.stat(target), attributes.fileID == tmpID {
                    return MessageInfo(uidl: uidl, size: size, fileName: name)
                }
                if error.code != .alreadyExists { throw error }
            }
        }
        throw StoreError(code: .io, message: "could not find a free message name in \(address)")
    }

    /// Removes the partial message; safe to call more than once.
    public func abort() {
        guard !done else { return }
        done = true
        try? handle?.close()
        handle = nil
        try? store.volume.unlink(tmp)
    }
}

extension MailStore {
    /// `keptUIDL`: the UIDL another server gave the message (`poplar import`), kept in its file name and served
    /// instead of the 26 digits; refused (`invalidName`) unless RFC 1939 allows it.
    public func beginDelivery(to address: MailboxAddress, keptUIDL: String? = nil) throws -> DeliveryWriter {
        try DeliveryWriter(store: self, address: address, keptUIDL: keptUIDL)
    }

    /// Takes back a message just delivered (an all-or-nothing SMTP transaction that failed for another recipient).
    public func withdraw(_ message: MessageInfo, from address: MailboxAddress) throws {
        let dir = try mailboxDir(address)
        try volume.unlinkChecked(try dir.appending(message.fileName))
        try volume.fsyncDirectory(dir)
    }

    public func deliver(to address: MailboxAddress, message: [UInt8], enforceQuota: Bool) throws -> MessageInfo {
        let writer = try beginDelivery(to: address)
        do {
            try writer.write(message)
        } catch {
            writer.abort()
            throw error
        }
        return try writer.finish(enforceQuota: enforceQuota)
    }
}
