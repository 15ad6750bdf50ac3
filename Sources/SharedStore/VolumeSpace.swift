#if canImport(Glibc)
import Glibc
#endif

/// Free space and free inodes of the file system a mail root is on (`poplar doctor`): a delivery into a full
/// file system answers 452, and a lock or heartbeat that cannot be written ends sessions.
public struct VolumeSpace: Sendable, Equatable {
    public var totalBytes: UInt64
    /// Bytes an unprivileged writer may still use (statvfs's f_bavail, NFS's abytes).
    public var availableBytes: UInt64
    /// nil where the file system does not say (it reports no inode count).
    public var totalFiles: UInt64?
    public var availableFiles: UInt64?

    public init(totalBytes: UInt64, availableBytes: UInt64, totalFiles: UInt64?, availableFiles: UInt64?) {
        self.totalBytes = totalBytes
        self.availableBytes = availableBytes
        self.totalFiles = totalFiles
        self.availableFiles = availableFiles
    }

    public var freePercent: Double { totalBytes == 0 ? 100 : Double(availableBytes) * 100 / Double(totalBytes) }
    public var freeFilesPercent: Double? {
        guard let total = totalFiles, let available = availableFiles, total > 0 else { return nil }
        return Double(available) * 100 / Double(total)
    }
}

/// A volume that can say how full its file system is. Not a requirement of `Volume`: a volume that cannot say
/// (a test's) is simply not one of these.
public protocol SpaceReportingVolume: Volume {
    /// nil: this volume cannot tell (a wrapper around one that cannot).
    func space() throws -> VolumeSpace?
}

extension Volume {
    /// The file system's space, or nil if this volume cannot tell.
    public func spaceIfKnown() throws -> VolumeSpace? {
        try (self as? any SpaceReportingVolume)?.space()
    }
}

extension POSIXVolume: SpaceReportingVolume {
    /// statvfs of the root directory.
    public func space() throws -> VolumeSpace? {
        var s = statvfs()
        guard statvfs(rootPath, &s) == 0 else { throw StoreError.posix(errno, "statvfs \(rootPath)") }
        let unit = UInt64(s.f_frsize == 0 ? s.f_bsize : s.f_frsize)
        let files = UInt64(s.f_files)
        return VolumeSpace(totalBytes: UInt64(s.f_blocks) * unit, availableBytes: UInt64(s.f_bavail) * unit,
                           totalFiles: files == 0 ? nil : files, availableFiles: files == 0 ? nil : UInt64(s.f_favail))
    }
}

extension MeteredVolume: SpaceReportingVolume {
    /// The inner volume's.
    public func space() throws -> VolumeSpace? { try inner.spaceIfKnown() }
}
