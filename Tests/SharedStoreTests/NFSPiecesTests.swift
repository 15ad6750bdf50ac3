import XCTest

@testable import SharedStore

/// The NFS volume's pure pieces: the URL and the directory handle cache. The RPCs themselves run against
/// nfs-ganesha in the store suite's NFS replay (Tests/run-tests) and the NFS-only tests.
final class NFSPiecesTests: XCTestCase {
    func testURLParts() throws {
        let u = try NFSURL(parsing: "nfs://10.0.0.5/srv/mail?nfsport=2049&mountport=20048&timeout=800")
        XCTAssertEqual(u.server, "10.0.0.5")
        XCTAssertEqual(u.export, "/srv/mail")
        XCTAssertEqual(u.nfsPort, 2049)
        XCTAssertEqual(u.mountPort, 20048)
        XCTAssertEqual(u.timeoutMilliseconds, 800)
        XCTAssertEqual(u.libnfsURL, "nfs://10.0.0.5/srv/mail?nfsport=2049&mountport=20048", "Poplar's own timeout is not libnfs's")
        let bare = try NFSURL(parsing: "nfs://nas/")
        XCTAssertEqual(bare.export, "/")
        XCTAssertEqual(bare.timeoutMilliseconds, NFSURL.defaultTimeoutMilliseconds)
        XCTAssertNil(bare.nfsPort)
        XCTAssertEqual(try NFSURL(parsing: "nfs://nas/x?version=3").libnfsURL, "nfs://nas/x")
    }

    func testURLRefusals() {
        let table: [(String, String)] = [
            ("/srv/mail", "is not an nfs://server/export URL"),
            ("nfs:///export", "is not an nfs://server/export URL"),
            ("nfs://nas/x?timeout=99", "timeout must be 100 to 600000"),
            ("nfs://nas/x?timeout=600001", "timeout must be 100 to 600000"),
            ("nfs://nas/x?timeout=abc", "timeout must be"),
            ("nfs://nas/x?version=4", "NFS version 4 is not supported"),
            ("nfs://nas/x?nfsport=0", "nfsport must be a port"),
            ("nfs://nas/x?mountport=70000", "mountport must be a port"),
            ("nfs://nas/x?uid=0", "unknown NFS URL parameter uid"),
        ]
        for (url, expected) in table {
            XCTAssertThrowsError(try NFSURL(parsing: url), url) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(url): \(error)")
            }
        }
    }

    func testDirectoryCacheFindsTheDeepestCachedAncestor() {
        let cache = NFSDirectoryCache(capacity: 100)
        XCTAssertNil(cache.nearest(["a", "b", "c"]))
        cache.store(["a"], [1])
        cache.store(["a", "b"], [2])
        XCTAssertEqual(cache.nearest(["a", "b", "c"])?.depth, 2)
        XCTAssertEqual(cache.nearest(["a", "b", "c"])?.handle, [2])
        XCTAssertEqual(cache.nearest(["a", "x"])?.handle, [1])
        XCTAssertNil(cache.nearest(["ab"]), "a path component is matched whole")
    }

    func testDirectoryCacheForgetsARemovedTreeOnly() {
        let cache = NFSDirectoryCache(capacity: 100)
        cache.store(["d"], [1])
        cache.store(["d", "P3_a.mbx"], [2])
        cache.store(["d", "P3_a.mbx", "tmp"], [3])
        cache.store(["d", "P3_ab.mbx"], [4])
        cache.forget(["d", "P3_a.mbx"])
        XCTAssertEqual(cache.nearest(["d", "P3_a.mbx", "tmp"])?.handle, [1])
        XCTAssertEqual(cache.nearest(["d", "P3_ab.mbx"])?.handle, [4], "a sibling whose name starts the same stays")
    }

    func testDirectoryCacheIsBounded() {
        let cache = NFSDirectoryCache(capacity: 3)
        for i in 0..<10 { cache.store(["d\(i)"], [UInt8(i)]) }
        XCTAssertLessThanOrEqual(cache.count, 3)
        XCTAssertEqual(cache.nearest(["d9"])?.handle, [9], "the newest is kept")
    }
}
