import CNFS
import Foundation

/// READ, WRITE and COMMIT on a file handle.
extension NFSVolume {
    // MARK: File data

    /// READ: up to `count` bytes at `offset`, and whether the file ends there.
    func read(_ handle: [UInt8], at offset: UInt64, count: Int, _ what: @autoclosure () -> String) throws -> ([UInt8], Bool) {
        var status = NFS3_OK
        var bytes: [UInt8] = []
        var eof = false
        try call(what(), issue: { rpc, cb, box in
            Self.withHandle(handle) { fh in
                var args = READ3args(file: fh, offset: offset, count: UInt32(count))
                return rpc_nfs3_read_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: READ3res.self).pointee
            status = res.status
            guard res.status == NFS3_OK else { return }
            let ok = res.READ3res_u.resok
            bytes = Array(UnsafeRawBufferPointer(start: ok.data.data_val, count: Int(min(ok.data.data_len, UInt32(count)))))
            eof = ok.eof != 0
        })
        guard status == NFS3_OK else { throw Self.failure(status, what()) }
        return (bytes, eof)
    }

    /// WRITE: how many bytes the server took, how durably, and its write verifier.
    func write(_ handle: [UInt8], at offset: UInt64, _ bytes: UnsafeRawBufferPointer, stable: stable_how, _ what: @autoclosure () -> String) throws -> (Int, stable_how, [UInt8]) {
        var status = NFS3_OK
        var result = (0, UNSTABLE, [UInt8]())
        try call(what(), issue: { rpc, cb, box in
            Self.withHandle(handle) { fh in
                var args = WRITE3args()
                args.file = fh
                args.offset = offset
                args.count = UInt32(bytes.count)
                args.stable = stable
                args.data.data_len = UInt32(bytes.count)
                args.data.data_val = UnsafeMutableRawPointer(mutating: bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
                return rpc_nfs3_write_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: WRITE3res.self).pointee
            status = res.status
            guard res.status == NFS3_OK else { return }
            let ok = res.WRITE3res_u.resok
            result = (Int(ok.count), ok.committed, withUnsafeBytes(of: ok.verf) { Array($0) })
        })
        guard status == NFS3_OK else { throw Self.failure(status, what()) }
        return result
    }

    /// COMMIT of the whole file; its write verifier.
    func commit(_ handle: [UInt8], _ what: @autoclosure () -> String) throws -> [UInt8] {
        var status = NFS3_OK
        var verifier: [UInt8] = []
        try call(what(), issue: { rpc, cb, box in
            Self.withHandle(handle) { fh in
                var args = COMMIT3args(file: fh, offset: 0, count: 0)
                return rpc_nfs3_commit_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: COMMIT3res.self).pointee
            status = res.status
            if res.status == NFS3_OK { verifier = withUnsafeBytes(of: res.COMMIT3res_u.resok.verf) { Array($0) } }
        })
        guard status == NFS3_OK else { throw Self.failure(status, what()) }
        return verifier
    }
}
