import CNFS
import Foundation

/// An open NFS file: its handle, nothing held on the server (NFSv3 has no open). Every read and write is a call on
/// a pooled context.
// @unchecked Sendable: used by one thread at a time (each call starts after the previous completed), and its `var`s
// change only in those calls; every call checks its own context out of the pool.
final class NFSFile: VolumeReadHandle, VolumeWriteHandle, @unchecked Sendable {
    private let volume: NFSVolume
    private let handle: [UInt8]
    private let path: StorePath
    private var writeOffset: UInt64 = 0
    private var wroteAny = false
    /// The write verifier of data written UNSTABLE and not yet committed (nil: nothing to commit).
    private var uncommitted: [UInt8]?
    private var closed = false

    init(volume: NFSVolume, handle: [UInt8], path: StorePath) {
        self.volume = volume
        self.handle = handle
        self.path = path
    }

    func seek(to offset: Int64) throws {
        guard offset >= 0 else { throw StoreError(code: .io, message: "seek \(path): negative offset") }
        writeOffset = UInt64(offset)
    }

    /// RPC budget: 1 READ per `readMax` bytes (one for a chunk up to the server's transfer size); a short read ends it.
    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        guard !closed else { throw StoreError(code: .io, message: "read \(path): closed") }
        var out: [UInt8] = []
        while out.count < count {
            let (bytes, eof) = try volume.read(handle, at: UInt64(offset) + UInt64(out.count), count: min(count - out.count, volume.readMax), "read \(path)")
            out += bytes
            if eof || bytes.isEmpty { break }
        }
        return out
    }

    /// RPC budget: 1 WRITE per `writeMax` bytes; a small first write is FILE_SYNC, so it needs no COMMIT.
    func write(_ bytes: [UInt8]) throws {
        guard !closed else { throw StoreError(code: .io, message: "write \(path): closed") }
        // A small whole first write (a record, an intent, a journal line) is made durable by the WRITE itself.
        let stable = !wroteAny && uncommitted == nil && bytes.count <= NFSVolume.stableWriteLimit ? FILE_SYNC : UNSTABLE
        wroteAny = true
        try bytes.withUnsafeBytes { all in
            var done = 0
            while done < all.count {
                let chunk = UnsafeRawBufferPointer(rebasing: all[done..<min(all.count, done + volume.writeMax)])
                let (n, committed, verifier) = try volume.write(handle, at: writeOffset, chunk, stable: stable, "write \(path)")
                if n <= 0 { throw StoreError(code: .io, message: "write \(path): no progress") }
                if committed != FILE_SYNC {
                    if let earlier = uncommitted, earlier != verifier {
                        throw StoreError(code: .io, message: "write \(path): the NFS server restarted while the file was written")
                    }
                    uncommitted = verifier
                }
                done += n
                writeOffset += UInt64(n)
            }
        }
    }

    /// RPC budget: 1 COMMIT if anything was written UNSTABLE, else none.
    /// COMMIT, if anything was written UNSTABLE. A verifier that changed means the server restarted and may have
    /// lost what it had not committed: the write fails (RFC 1813 §3.3.21), and the caller starts over.
    func fsync() throws {
        guard !closed, let verifier = uncommitted else { return }
        let now = try volume.commit(handle, "fsync \(path)")
        guard now == verifier else {
            throw StoreError(code: .io, message: "fsync \(path): the NFS server restarted before the data was committed")
        }
        uncommitted = nil
    }

    func close() { closed = true }
}
