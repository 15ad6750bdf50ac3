import CNFS
import Foundation

/// Directory listings: READDIRPLUS in large pages, started again when the directory changes under the listing.
extension NFSVolume {
    /// A listing of a directory that changes under it (entries renamed, created, removed by other hosts) can be
    /// answered NFS3ERR_STALE, BAD_COOKIE, NOENT or JUKEBOX by nfs-ganesha (`changedUnderListing`): the listing is
    /// started again, this many times at most.
    static let maxListAttempts = 8
    /// JUKEBOX asks the client to wait before it tries again (RFC 1813 §2.6): this long times the attempt's number.
    static let jukeboxPauseMicroseconds: UInt32 = 2_000

    /// READDIRPLUS: names with sizes and times, no call per entry, in pages of up to `readdirMaxCount` bytes.
    /// RPC budget: 1 READDIRPLUS per page of up to 1 MB (10,000 messages: a few); started again at most `maxListAttempts` times.
    public func list(_ directory: StorePath) throws -> [DirectoryEntry] {
        var handle = try directoryHandle(directory)
        var attempt = 1
        while true {
            let page = try listOnce(handle, directory)
            switch page {
            case .entries(let entries):
                return entries
            case .failed(let status, let linked):
                let gone = Self.directoryGone(status, linked: linked)
                if gone || Self.changedUnderListing(status, linked: linked), attempt < Self.maxListAttempts {
                    attempt += 1
                    if gone { handle = try directoryHandle(directory, fresh: true) }
                    if status == NFS3ERR_JUKEBOX { usleep(Self.jukeboxPauseMicroseconds * UInt32(attempt)) }
                    continue
                }
                throw Self.failure(status, "list \(directory)")
            }
        }
    }

    /// The directory changed while the server read it, and a fresh listing answers: BAD_COOKIE (its cache dropped
    /// the chunk a cookie pointed into); "no such entry" with the directory itself still linked (nfs-ganesha fails
    /// the whole READDIRPLUS when an entry it had cached was removed before it read the entry's attributes); or
    /// JUKEBOX, "try again later" (ganesha, when its cache of the directory is being refilled by another call).
    /// `ListingChurnTests` meets all three.
    static func changedUnderListing(_ status: nfsstat3, linked: Bool) -> Bool {
        status == NFS3ERR_BAD_COOKIE || status == NFS3ERR_JUKEBOX || (status == NFS3ERR_NOENT && linked)
    }

    enum Listing {
        case entries([DirectoryEntry])
        case failed(nfsstat3, linked: Bool)
    }

    func listOnce(_ handle: [UInt8], _ directory: StorePath) throws -> Listing {
        var entries: [DirectoryEntry] = []
        var cookie: UInt64 = 0
        var verifier = READDIRPLUS3args().cookieverf
        while true {
            var status = NFS3_OK
            var linked = true
            var eof = false
            var lastCookie = cookie
            try call("list \(directory)", issue: { rpc, cb, box in
                Self.withHandle(handle) { fh in
                    var args = READDIRPLUS3args(dir: fh, cookie: cookie, cookieverf: verifier, dircount: Self.readdirDirCount, maxcount: Self.readdirMaxCount)
                    return rpc_nfs3_readdirplus_async(rpc, cb, &args, box)
                }
            }, decode: { data in
                let res = data.assumingMemoryBound(to: READDIRPLUS3res.self).pointee
                status = res.status
                guard res.status == NFS3_OK else {
                    linked = Self.linked(res.READDIRPLUS3res_u.resfail.dir_attributes)
                    return
                }
                let ok = res.READDIRPLUS3res_u.resok
                verifier = ok.cookieverf
                eof = ok.reply.eof != 0
                var next = ok.reply.entries
                while let e = next {
                    let entry = e.pointee
                    lastCookie = entry.cookie
                    next = entry.nextentry
                    guard let cName = entry.name else { continue }
                    let name = String(cString: cName)
                    if name == "." || name == ".." { continue }
                    let attributes = entry.name_attributes.attributes_follow != 0
                        ? Self.attributes(entry.name_attributes.post_op_attr_u.attributes)
                        : FileAttributes(kind: .other, size: 0, modifiedNanoseconds: 0, fileID: entry.fileid)
                    entries.append(DirectoryEntry(name: name, attributes: attributes))
                }
            })
            guard status == NFS3_OK else { return .failed(status, linked: linked) }
            if eof { return .entries(entries) }
            guard lastCookie != cookie else {
                throw StoreError(code: .io, message: "list \(directory): the server's listing made no progress")
            }
            cookie = lastCookie
        }
    }
}
