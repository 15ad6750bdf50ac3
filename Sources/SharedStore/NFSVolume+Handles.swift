import CNFS
import Foundation

/// NFSv3 file handles and attributes to and from libnfs's C types.
extension NFSVolume {
    // MARK: Handles

    static func bytes(_ fh: nfs_fh3) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: fh.data.data_val, count: Int(fh.data.data_len)))
    }

    static func withHandle<R>(_ handle: [UInt8], _ body: (nfs_fh3) throws -> R) rethrows -> R {
        try handle.withUnsafeBufferPointer { buffer in
            var fh = nfs_fh3()
            fh.data.data_len = UInt32(buffer.count)
            fh.data.data_val = UnsafeMutableRawPointer(mutating: buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            return try body(fh)
        }
    }

    static func withDirop<R>(_ dir: [UInt8], _ name: String, _ body: (diropargs3) throws -> R) rethrows -> R {
        try withHandle(dir) { fh in
            try name.withCString { cName in
                try body(diropargs3(dir: fh, name: UnsafeMutablePointer(mutating: cName)))
            }
        }
    }

    static func linked(_ attributes: post_op_attr) -> Bool {
        attributes.attributes_follow != 0 && attributes.post_op_attr_u.attributes.nlink > 0
    }

    static func attributes(_ a: fattr3) -> FileAttributes {
        let kind: FileKind = a.type == NF3REG ? .file : (a.type == NF3DIR ? .directory : .other)
        return FileAttributes(kind: kind, size: Int64(a.size), modifiedNanoseconds: Int64(a.mtime.seconds) * 1_000_000_000 + Int64(a.mtime.nseconds), fileID: a.fileid)
    }
}
