import CNFS
import Foundation

/// The pool of libnfs contexts: one per concurrent caller (a context is not thread-safe), each its own TCP
/// connection and mount, made with a per-call timeout, a bounded reconnect and libnfs's directory cache off.
extension NFSVolume {
    func makeContext() throws -> OpaquePointer {
        guard let context = nfs_init_context() else { throw StoreError(code: .io, message: "libnfs: cannot create a context") }
        nfs_set_timeout(context, timeoutMilliseconds)
        nfs_set_autoreconnect(context, 3)
        nfs_set_dircache(context, 0)
        // libnfs takes nfsport= and mountport= from the URL into the context.
        guard let parsed = nfs_parse_url_dir(context, url) else {
            let text = String(cString: nfs_get_error(context))
            nfs_destroy_context(context)
            throw StoreError(code: .invalidName, message: "\(url): \(text)")
        }
        defer { nfs_destroy_url(parsed) }
        let rc = nfs_mount(context, parsed.pointee.server, parsed.pointee.path)
        if rc != 0 {
            let text = String(cString: nfs_get_error(context))
            nfs_destroy_context(context)
            throw StoreError(code: .unavailable, message: "cannot mount \(server):\(export): \(text)", errno: -rc)
        }
        return context
    }

    func checkOut() throws -> OpaquePointer {
        if let context = pool.withLock({ $0.popLast() }) { return context.pointer }
        return try makeContext()
    }

    func checkIn(_ context: OpaquePointer) {
        let boxed = Context(pointer: context)
        pool.withLock { $0.append(boxed) }
    }
}
