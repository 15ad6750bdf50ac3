import CNFS
import Foundation

/// FSSTAT: how full the export's file system is (`poplar doctor`).
extension NFSVolume: SpaceReportingVolume {
    /// RPC budget: 1 FSSTAT on the mail root's handle.
    public func space() throws -> VolumeSpace? {
        let root = try directoryHandle(.root)
        var out = Outcome<VolumeSpace>()
        try call("fsstat /", issue: { rpc, cb, box in
            Self.withHandle(root) { fh in
                var args = FSSTAT3args(fsroot: fh)
                return rpc_nfs3_fsstat_async(rpc, cb, &args, box)
            }
        }, decode: { data in
            let res = data.assumingMemoryBound(to: FSSTAT3res.self).pointee
            out.status = res.status
            if res.status == NFS3_OK {
                let ok = res.FSSTAT3res_u.resok
                out.value = VolumeSpace(totalBytes: ok.tbytes, availableBytes: ok.abytes,
                                        totalFiles: ok.tfiles == 0 ? nil : ok.tfiles, availableFiles: ok.tfiles == 0 ? nil : ok.afiles)
            }
        })
        guard out.status == NFS3_OK, let value = out.value else { throw Self.failure(out.status, "fsstat /") }
        return value
    }
}
