import Foundation
import Synchronization
import XCTest

@testable import SharedStore

/// A directory listed while other clients create, rename and remove files in it (a mailbox's `tmp/` during
/// parallel deliveries) is always listed, never answered with an error. Over NFS, nfs-ganesha answers a whole
/// READDIRPLUS "no such entry" when an entry it had cached was removed before it read the entry's attributes
/// (the listed directory itself still linked); the volume starts that listing again, as for BAD_COOKIE.
final class ListingChurnTests: XCTestCase {
    static let seconds: TimeInterval = 3
    func testListingWhileEntriesComeAndGo() throws {
        let f = try StoreFixture()
        let dir = try StorePath(["churn"])
        try f.volume.mkdir(dir)
        let stop = Atomic<Bool>(false)
        let churnErrors = Collector<String>()
        let done = DispatchGroup()
        let volumes = try (0..<6).map { _ in try f.anotherVolume() }  // other clients, as other nodes
        let writers = volumes.enumerated().map { w, volume in Thread {
            defer { done.leave() }
            var i = 0
            while !stop.load(ordering: .relaxed) {
                do {
                    let file = try dir.appending("m.\(w).\(i)")
                    try volume.writeFile(file, Array("x".utf8), exclusive: true)
                    try volume.rename(file, to: try dir.appending("m.\(w).\(i).ready"))
                    try volume.unlink(try dir.appending("m.\(w).\(i).ready"))
                } catch { churnErrors.add("\(error)") }
                i += 1
            }
        } }
        for writer in writers {
            done.enter()
            writer.start()
        }
        var listingErrors: [String] = []
        var listings = 0
        let end = Date().addingTimeInterval(Self.seconds)
        while Date() < end {
            do { _ = try f.volume.list(dir) } catch { listingErrors.append("\(error)") }
            listings += 1
        }
        stop.store(true, ordering: .relaxed)
        done.wait()
        XCTAssertEqual(listingErrors, [], "every one of \(listings) listings answered")
        XCTAssertEqual(churnErrors.all, [])
    }
}
