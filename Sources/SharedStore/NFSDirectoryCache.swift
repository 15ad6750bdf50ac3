import Synchronization

/// Directory handles of an NFS volume by path below the export ("base/…/dir"), bounded: past `capacity` entries it
/// starts again empty (a few per mailbox in use; a handle missed costs one LOOKUP). Poplar never renames a
/// directory, so a path and its handle stay paired until the directory is removed (`forget`) or the server says the
/// handle is stale (the caller walks again from the root and `store`s what it finds).
final class NFSDirectoryCache: Sendable {
    let capacity: Int
    private let handles = Mutex<[String: [UInt8]]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    static func key(_ components: ArraySlice<String>) -> String { components.joined(separator: "/") }

    /// The deepest cached directory on `path` (itself included): how many components it covers and its handle.
    func nearest(_ path: ArraySlice<String>) -> (depth: Int, handle: [UInt8])? {
        handles.withLock { cache in
            for depth in stride(from: path.count, to: 0, by: -1) {
                if let handle = cache[Self.key(path.prefix(depth))] { return (depth, handle) }
            }
            return nil
        }
    }

    func store(_ path: ArraySlice<String>, _ handle: [UInt8]) {
        let key = Self.key(path)
        handles.withLock { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[key] = handle
        }
    }

    /// A removed directory and everything below it.
    func forget(_ path: ArraySlice<String>) {
        let key = Self.key(path)
        handles.withLock { cache in cache = cache.filter { $0.key != key && !$0.key.hasPrefix(key + "/") } }
    }

    var count: Int { handles.withLock { $0.count } }
}
