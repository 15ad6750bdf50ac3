import CNFS
import Foundation

/// One NFSv3 RPC run to its reply on a pooled context, and the rules for its failures: an RPC that gets no answer
/// (or loses its connection past the reconnects) drops the context and is `unavailable`; an NFS status is the
/// caller's to read; a directory that is gone is told apart from a missing entry, so the caller can look it up again.
extension NFSVolume {
    // MARK: One RPC

    /// Where a call's callback leaves its outcome; `decode` copies what it needs while the reply is valid.
    final class Call {
        var finished = false
        var rpcStatus: Int32 = 0
        var rpcError = ""
        let decode: (UnsafeMutableRawPointer) -> Void
        init(decode: @escaping (UnsafeMutableRawPointer) -> Void) { self.decode = decode }

        static func done(_ status: Int32, _ data: UnsafeMutableRawPointer?, _ box: UnsafeMutableRawPointer?) {
            guard let box else { return }
            let call = Unmanaged<Call>.fromOpaque(box).takeUnretainedValue()
            call.finished = true
            call.rpcStatus = status
            if status == RPC_STATUS_SUCCESS, let data {
                call.decode(data)
            } else if status == RPC_STATUS_ERROR, let data {
                call.rpcError = String(cString: data.assumingMemoryBound(to: CChar.self))
            } else if status == RPC_STATUS_TIMEOUT {
                call.rpcError = "no answer in time"
            }
        }
    }

    typealias Issue = (_ rpc: OpaquePointer, _ callback: rpc_cb, _ box: UnsafeMutableRawPointer) -> Int32

    /// One NFSv3 call, run to its reply on a context of the pool: issue, then poll and service the context until
    /// the callback has run. An RPC that fails (no answer within the timeout, the connection lost past the
    /// reconnects) drops the context and throws `unavailable`; an NFS error status is `decode`'s to read.
    func call(_ what: @autoclosure () -> String, issue: Issue, decode: @escaping (UnsafeMutableRawPointer) -> Void) throws {
        let context = try checkOut()
        let call = Call(decode: decode)
        let failure: String? = withExtendedLifetime(call) {
            guard let rpc = nfs_get_rpc_context(context) else { return "no RPC context" }
            let box = Unmanaged.passUnretained(call).toOpaque()
            if issue(rpc, { _, status, data, box in NFSVolume.Call.done(status, data, box) }, box) != 0 {
                return rpc_get_error(rpc).map { String(cString: $0) } ?? "cannot queue the call"
            }
            // libnfs times a call out itself (nfs_set_timeout) when serviced; this is the backstop.
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMilliseconds) * 2_000_000 + 1_000_000_000
            while !call.finished {
                var pfd = pollfd(fd: rpc_get_fd(rpc), events: Int16(truncatingIfNeeded: rpc_which_events(rpc)), revents: 0)
                let n = poll(&pfd, 1, 100)
                if n < 0 && errno != EINTR { return "poll: \(String(cString: strerror(errno)))" }
                if rpc_service(rpc, n > 0 ? Int32(pfd.revents) : 0) < 0 {
                    return rpc_get_error(rpc).map { String(cString: $0) } ?? "connection lost"
                }
                if !call.finished && DispatchTime.now().uptimeNanoseconds > deadline { return "no answer in time" }
            }
            return call.rpcStatus == RPC_STATUS_SUCCESS ? nil : (call.rpcError.isEmpty ? "call failed" : call.rpcError)
        }
        if let failure {
            // The connection may be wedged, and a call still queued on it is cancelled here, while `call` lives.
            withExtendedLifetime(call) { nfs_destroy_context(context) }
            throw StoreError(code: .unavailable, message: "\(what()): the NFS server did not answer (\(failure))", errno: ETIMEDOUT)
        }
        checkIn(context)
    }

    /// What one call on a name in a directory came back with.
    struct Outcome<T> {
        var status = NFS3_OK
        var value: T?
        /// The directory's attributes after a failed call show it still linked (nlink > 0).
        var directoryLinked = true
        var directoryGone: Bool { NFSVolume.directoryGone(status, linked: directoryLinked) }
    }

    /// The directory a call named is gone: its handle is stale, or an entry is missing from an unlinked one.
    static func directoryGone(_ status: nfsstat3, linked: Bool) -> Bool {
        status == NFS3ERR_STALE || (status == NFS3ERR_NOENT && !linked)
    }

    static func failure(_ status: nfsstat3, _ what: String) -> StoreError {
        let err = abs(nfsstat3_to_errno(Int32(bitPattern: status.rawValue)))
        return StoreError.posix(err == 0 ? EIO : err, what)
    }
}
