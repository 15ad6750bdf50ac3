import Foundation

/// An NFS mail root's URL, `nfs://server/export[?nfsport=N&mountport=M&timeout=MS]`, parsed and checked before
/// anything is mounted (docs/nfs.md). Pure: a string in, the parts or a clear error out.
public struct NFSURL: Sendable, Equatable {
    /// Bounds of Poplar's own `timeout` parameter, in milliseconds.
    public static let timeoutRange = 100...600_000
    public static let defaultTimeoutMilliseconds = 5000

    public let server: String
    public let export: String
    public let nfsPort: Int?
    public let mountPort: Int?
    /// How long a call that gets no answer waits before it fails.
    public let timeoutMilliseconds: Int
    /// The URL handed to libnfs: Poplar's own parameters (`timeout`) taken out.
    public let libnfsURL: String

    public init(parsing url: String, timeoutMilliseconds: Int = NFSURL.defaultTimeoutMilliseconds) throws {
        func fail(_ why: String) -> StoreError { StoreError(code: .invalidName, message: why) }
        guard url.hasPrefix("nfs://"), let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw fail("\(LogSafeText.escaped(url, limit: 200)) is not an nfs://server/export URL")
        }
        var nfsPort: Int?, mountPort: Int?
        var timeout = timeoutMilliseconds
        var libnfsItems: [URLQueryItem] = []
        func port(_ item: URLQueryItem) throws -> Int {
            guard let value = item.value.flatMap(Int.init), (1...65535).contains(value) else { throw fail("\(item.name) must be a port, 1 to 65535") }
            return value
        }
        for item in components.queryItems ?? [] {
            switch item.name {
            case "nfsport":
                nfsPort = try port(item)
                libnfsItems.append(item)
            case "mountport":
                mountPort = try port(item)
                libnfsItems.append(item)
            case "timeout":
                guard let ms = item.value.flatMap(Int.init), Self.timeoutRange.contains(ms) else {
                    throw fail("timeout must be \(Self.timeoutRange.lowerBound) to \(Self.timeoutRange.upperBound) milliseconds")
                }
                timeout = ms
            case "version":
                guard item.value == "3" else {
                    throw fail("NFS version \(LogSafeText.escaped(item.value ?? "", limit: 20)) is not supported: libnfs 4.0.0's NFSv4 is not functional; use NFSv3 (leave version out)")
                }
            default:
                throw fail("unknown NFS URL parameter \(LogSafeText.escaped(item.name, limit: 40))")
            }
        }
        var forLibnfs = components
        forLibnfs.queryItems = libnfsItems.isEmpty ? nil : libnfsItems
        self.libnfsURL = forLibnfs.string ?? url
        self.server = host
        self.export = components.path.isEmpty ? "/" : components.path
        self.nfsPort = nfsPort
        self.mountPort = mountPort
        self.timeoutMilliseconds = timeout
    }
}
