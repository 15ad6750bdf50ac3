import CNFS
import Foundation

/// LOOKUP and GETATTR, and `stat` on them.
extension NFSVolume {
    // MARK: NFSv3 procedures

    func lookup(_ dir: [UInt8], _ name: String, _ what: @autoclosure () -> String) throws -> Outcome<([UInt8], FileAttributes?)> {
        var out = Outcome<([UInt8], FileAttributes?)>()
        try call(what(), issue: { rpc, cb, box in
            Self.withDirop(dir, name) { what in
                var args = LOOKUP3args(what: what)
                return rpc_nfs3_lookup_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: LOOKUP3res.self).pointee
            out.status = res.status
            if res.status == NFS3_OK {
                let ok = res.LOOKUP3res_u.resok
                let attrs = ok.obj_attributes.attributes_follow != 0 ? Self.attributes(ok.obj_attributes.post_op_attr_u.attributes) : nil
                out.value = (Self.bytes(ok.object), attrs)
            } else {
                out.directoryLinked = Self.linked(res.LOOKUP3res_u.resfail.dir_attributes)
            }
        })
        return out
    }

    func getattr(_ handle: [UInt8], _ what: @autoclosure () -> String) throws -> FileAttributes {
        var out = Outcome<FileAttributes>()
        try call(what(), issue: { rpc, cb, box in
            Self.withHandle(handle) { fh in
                var args = GETATTR3args(object: fh)
                return rpc_nfs3_getattr_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: GETATTR3res.self).pointee
            out.status = res.status
            if res.status == NFS3_OK { out.value = Self.attributes(res.GETATTR3res_u.resok.obj_attributes) }
        })
        guard out.status == NFS3_OK, let value = out.value else { throw Self.failure(out.status, what()) }
        return value
    }

    /// The handle and attributes of a file (one LOOKUP in its directory's handle).
    func lookupEntry(_ path: StorePath, _ what: @autoclosure () -> String) throws -> ([UInt8], FileAttributes) {
        try inDirectory(path, what()) { dir, name in
            var found = try lookup(dir, name, what())
            if let (handle, attributes) = found.value, attributes == nil {
                found.value = (handle, try getattr(handle, what()))
            }
            return Outcome(status: found.status, value: found.value.map { ($0.0, $0.1!) }, directoryLinked: found.directoryLinked)
        }
    }

    /// RPC budget: 1 LOOKUP (+1 GETATTR if the server leaves the attributes out); the mail root: 1 GETATTR.
    public func stat(_ path: StorePath) throws -> FileAttributes {
        if path.components.isEmpty { return try getattr(try directoryHandle(.root), "stat /") }
        return try lookupEntry(path, "stat \(path)").1
    }
}
