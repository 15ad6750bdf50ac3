import CNFS
import Foundation

/// Calls on names: MKDIR, RMDIR, CREATE, open, RENAME, LINK, REMOVE. Each costs the RPCs its doc names, with the
/// entry's directory handle cached (an uncached directory costs one LOOKUP per path component not cached).
extension NFSVolume {
    /// One call on a name in a directory whose reply is only its status (and, on failure, the directory's
    /// attributes after it): MKDIR, RMDIR, REMOVE. `issue` queues it with the directory and name; `reply` reads the
    /// status and the failure's post-operation directory attributes.
    func nameCall(_ path: StorePath, _ what: @autoclosure () -> String,
                          issue: @escaping (_ rpc: OpaquePointer, _ callback: rpc_cb, _ box: UnsafeMutableRawPointer, _ entry: diropargs3) -> Int32,
                          reply: @escaping (UnsafeMutableRawPointer) -> (nfsstat3, post_op_attr)) throws {
        let description = what()
        try inDirectory(path, description) { dir, name in
            var out = Outcome<Void>()
            try call(description, issue: { rpc, cb, box in
                Self.withDirop(dir, name) { entry in issue(rpc, cb, box, entry) }
            }, decode: { data in
                let (status, after) = reply(data)
                out.status = status
                if status == NFS3_OK { out.value = () } else { out.directoryLinked = Self.linked(after) }
            })
            return out
        }
    }

    /// RPC budget: 1 MKDIR.
    public func mkdir(_ path: StorePath) throws {
        var attributes = sattr3()
        attributes.mode.set_it = 1
        attributes.mode.set_mode3_u.mode = 0o750
        try nameCall(path, "mkdir \(path)", issue: { rpc, cb, box, entry in
            var args = MKDIR3args(where: entry, attributes: attributes)
            return rpc_nfs3_mkdir_async(rpc, cb, &args, box)
        }, reply: { data in
            let res = data.assumingMemoryBound(to: MKDIR3res.self).pointee
            return (res.status, res.MKDIR3res_u.resfail.dir_wcc.after)
        })
    }

    /// RPC budget: 1 RMDIR.
    public func rmdir(_ path: StorePath) throws {
        try nameCall(path, "rmdir \(path)", issue: { rpc, cb, box, entry in
            var args = RMDIR3args(object: entry)
            return rpc_nfs3_rmdir_async(rpc, cb, &args, box)
        }, reply: { data in
            let res = data.assumingMemoryBound(to: RMDIR3res.self).pointee
            return (res.status, res.RMDIR3res_u.resfail.dir_wcc.after)
        })
        directories.forget((base + path.components)[...])
    }

    /// RPC budget: 1 LOOKUP (+1 GETATTR if the server leaves the attributes out); then 1 READ per chunk (`NFSFile`).
    public func openForReading(_ path: StorePath) throws -> any VolumeReadHandle {
        let (handle, attributes) = try lookupEntry(path, "open \(path)")
        guard attributes.kind != .directory else { throw StoreError.posix(EISDIR, "open \(path)") }
        return NFSFile(volume: self, handle: handle, path: path)
    }

    /// CREATE: GUARDED when `exclusive` (EEXIST if present), else UNCHECKED with size 0 (truncates an existing one).
    /// RPC budget: 1 CREATE (+1 LOOKUP if the server leaves the new handle out).
    public func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle {
        var how = createhow3()
        how.mode = exclusive ? GUARDED : UNCHECKED
        var attributes = sattr3()
        attributes.mode.set_it = 1
        attributes.mode.set_mode3_u.mode = 0o640
        if !exclusive {
            attributes.size.set_it = 1
            attributes.size.set_size3_u.size = 0
        }
        how.createhow3_u.obj_attributes = attributes
        let handle: [UInt8]? = try inDirectory(path, "create \(path)") { dir, name in
            var out = Outcome<[UInt8]?>()
            try call("create \(path)", issue: { rpc, cb, box in
                Self.withDirop(dir, name) { where_ in
                    var args = CREATE3args(where: where_, how: how)
                    return rpc_nfs3_create_async(rpc, cb, &args, box)
                }
            }, decode: { data in
                let res = data.assumingMemoryBound(to: CREATE3res.self).pointee
                out.status = res.status
                if res.status == NFS3_OK {
                    let ok = res.CREATE3res_u.resok
                    out.value = ok.obj.handle_follows != 0 ? Self.bytes(ok.obj.post_op_fh3_u.handle) : nil
                } else {
                    out.directoryLinked = Self.linked(res.CREATE3res_u.resfail.dir_wcc.after)
                }
            })
            return out
        }
        // A server may leave the new file's handle out of its reply (RFC 1813 §3.3.8): look it up.
        let fh = try handle ?? lookupEntry(path, "create \(path)").0
        return NFSFile(volume: self, handle: fh, path: path)
    }

    /// RPC budget: 1 LOOKUP (+1 GETATTR if the server leaves the attributes out).
    public func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle {
        let (handle, attributes) = try lookupEntry(path, "open \(path)")
        guard attributes.kind == .file else { throw StoreError.posix(EISDIR, "open \(path)") }
        return NFSFile(volume: self, handle: handle, path: path)
    }

    /// RPC budget: 1 RENAME (a second after a walk from the root when a cached directory is gone).
    public func rename(_ from: StorePath, to: StorePath) throws {
        guard let fromParent = from.parent, let fromName = from.name, let toParent = to.parent, let toName = to.name else {
            throw StoreError(code: .invalidName, message: "rename \(from) to \(to): the mail root itself")
        }
        func attempt(fresh: Bool) throws -> Outcome<Void> {
            let fromDir = try directoryHandle(fromParent, fresh: fresh)
            let toDir = fromParent == toParent ? fromDir : try directoryHandle(toParent, fresh: fresh)
            var out = Outcome<Void>()
            try call("rename \(from) to \(to)", issue: { rpc, cb, box in
                Self.withDirop(fromDir, fromName) { f in
                    Self.withDirop(toDir, toName) { t in
                        var args = RENAME3args(from: f, to: t)
                        return rpc_nfs3_rename_async(rpc, cb, &args, box)
                    }
                }
            }, decode: { data in
                let res = data.assumingMemoryBound(to: RENAME3res.self).pointee
                out.status = res.status
                if res.status == NFS3_OK {
                    out.value = ()
                } else {
                    let fail = res.RENAME3res_u.resfail
                    out.directoryLinked = Self.linked(fail.fromdir_wcc.after) && Self.linked(fail.todir_wcc.after)
                }
            })
            return out
        }
        var outcome = try attempt(fresh: false)
        if outcome.directoryGone { outcome = try attempt(fresh: true) }
        guard outcome.status == NFS3_OK else { throw Self.failure(outcome.status, "rename \(from) to \(to)") }
    }

    /// RPC budget: 1 LOOKUP of the source + 1 LINK.
    public func link(_ from: StorePath, to: StorePath) throws {
        let (file, _) = try lookupEntry(from, "link \(from) to \(to)")
        try inDirectory(to, "link \(from) to \(to)") { dir, name in
            var out = Outcome<Void>()
            try call("link \(from) to \(to)", issue: { rpc, cb, box in
                Self.withHandle(file) { fh in
                    Self.withDirop(dir, name) { where_ in
                        var args = LINK3args(file: fh, link: where_)
                        return rpc_nfs3_link_async(rpc, cb, &args, box)
                    }
                }
            }, decode: { data in
                let res = data.assumingMemoryBound(to: LINK3res.self).pointee
                out.status = res.status
                if res.status == NFS3_OK { out.value = () } else { out.directoryLinked = Self.linked(res.LINK3res_u.resfail.linkdir_wcc.after) }
            })
            return out
        }
    }

    /// RPC budget: 1 REMOVE.
    public func unlink(_ path: StorePath) throws {
        try nameCall(path, "unlink \(path)", issue: { rpc, cb, box, entry in
            var args = REMOVE3args(object: entry)
            return rpc_nfs3_remove_async(rpc, cb, &args, box)
        }, reply: { data in
            let res = data.assumingMemoryBound(to: REMOVE3res.self).pointee
            return (res.status, res.REMOVE3res_u.resfail.dir_wcc.after)
        })
    }

    /// NFSv3 directory operations are synchronous on the server (RFC 1813 §3.3: CREATE, RENAME, LINK, REMOVE
    /// commit before they reply): nothing to flush.
    /// RPC budget: none.
    public func fsyncDirectory(_ path: StorePath) throws {}
}
