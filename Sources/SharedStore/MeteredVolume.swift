import Metrics

/// A volume that times every call into `poplar_store_call_duration_seconds{call=…}` (a histogram under
/// Prometheus) and counts failures into `poplar_store_call_errors_total{call=…}`. Labels are the call's name
/// only: bounded, never a path.
public final class MeteredVolume: Volume, Sendable {
    public let inner: any Volume

    public init(_ inner: any Volume) { self.inner = inner }

    private func timed<T>(_ call: String, _ body: () throws -> T) throws -> T {
        let start = BootTimeClock().now()
        defer {
            Timer(label: "poplar_store_call_duration_seconds", dimensions: [("call", call)])
                .recordNanoseconds(Int64(BootTimeClock().now() &- start))
        }
        do {
            return try body()
        } catch {
            Counter(label: "poplar_store_call_errors_total", dimensions: [("call", call)]).increment()
            throw error
        }
    }

    public func stat(_ path: StorePath) throws -> FileAttributes { try timed("stat") { try inner.stat(path) } }
    public func list(_ directory: StorePath) throws -> [DirectoryEntry] { try timed("list") { try inner.list(directory) } }
    public func mkdir(_ path: StorePath) throws { try timed("mkdir") { try inner.mkdir(path) } }
    public func rmdir(_ path: StorePath) throws { try timed("rmdir") { try inner.rmdir(path) } }
    public func openForReading(_ path: StorePath) throws -> any VolumeReadHandle { try timed("open") { try inner.openForReading(path) } }
    public func createFile(_ path: StorePath, exclusive: Bool) throws -> any VolumeWriteHandle {
        try timed("create") { try inner.createFile(path, exclusive: exclusive) }
    }
    public func openExisting(_ path: StorePath) throws -> any VolumeWriteHandle { try timed("open") { try inner.openExisting(path) } }
    public func rename(_ from: StorePath, to: StorePath) throws { try timed("rename") { try inner.rename(from, to: to) } }
    public func link(_ from: StorePath, to: StorePath) throws { try timed("link") { try inner.link(from, to: to) } }
    public func unlink(_ path: StorePath) throws { try timed("unlink") { try inner.unlink(path) } }
    public func fsyncDirectory(_ path: StorePath) throws { try timed("fsync-directory") { try inner.fsyncDirectory(path) } }
}
