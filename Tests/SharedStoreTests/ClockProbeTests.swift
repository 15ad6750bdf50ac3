import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

@testable import SharedStore

/// `poplar doctor`'s store-side probes on a real volume (POSIX, or NFS when POPLAR_TEST_NFS is set): the NAS's
/// clock through a probe file's modification time, and the file system's free space.
final class ClockProbeTests: XCTestCase {
    func testTheSameClockShowsNoSkewAndTheProbeIsGone() throws {
        let f = try StoreFixture()
        let probe = try f.store.probeClock(samples: 3)
        // The server stamps the file with this machine's clock (the NAS runs here): no skew beyond the round trip and
        // a file system's coarse timestamps.
        XCTAssertLessThanOrEqual(abs(probe.skewSeconds), probe.uncertaintySeconds + 0.1, "\(probe)")
        XCTAssertGreaterThanOrEqual(probe.roundTripSeconds, 0)
        XCTAssertEqual(f.files(".poplar/tmp").filter { $0.hasPrefix("clock-probe.") }, [])
    }

    func testALocalClockBehindShowsTheNASAhead() throws {
        let f = try StoreFixture()
        let probe = try f.store.probeClock(samples: 2) { Date().addingTimeInterval(-100) }
        XCTAssertEqual(probe.skewSeconds, 100, accuracy: probe.uncertaintySeconds + 0.1, "\(probe)")
        XCTAssertEqual(f.files(".poplar/tmp").filter { $0.hasPrefix("clock-probe.") }, [])
    }

    func testTheVerdictJudgesTheSkewLessItsUncertaintyAgainstTheLease() {
        func verdict(_ skew: Double, _ uncertainty: Double = 0.001, leaseMs: Int = 30_000) -> ClockProbe.Verdict {
            ClockProbe(skewSeconds: skew, uncertaintySeconds: uncertainty, roundTripSeconds: 2 * uncertainty)
                .verdict(lease: LockLease(milliseconds: leaseMs))
        }
        XCTAssertEqual(verdict(0), .ok)
        XCTAssertEqual(verdict(0.9), .ok)
        XCTAssertEqual(verdict(-1.5), .warn)
        XCTAssertEqual(verdict(1.5, 0.6), .ok, "at least 0.9 s off: a slow round trip raises no alarm")
        XCTAssertEqual(verdict(7.6), .fail, "past a quarter of a 30 s lease")
        XCTAssertEqual(verdict(-7.6), .fail)
        XCTAssertEqual(verdict(7.6, 0.2), .warn)
        XCTAssertEqual(verdict(0.6, leaseMs: 2000), .fail, "a quarter of a 2 s lease is below the warning's 1 s")
    }

    func testFreeSpaceIsTheFileSystemsAndTheMeteredVolumeForwardsIt() throws {
        let f = try StoreFixture()
        let space = try XCTUnwrap(try f.volume.spaceIfKnown())
        XCTAssertGreaterThan(space.totalBytes, 0)
        XCTAssertLessThanOrEqual(space.availableBytes, space.totalBytes)
        XCTAssert((0...100).contains(space.freePercent), "\(space)")
        // The same file system as the fixture's local directory (over NFS, the export ganesha serves from it).
        var local = statvfs()
        XCTAssertEqual(statvfs(f.path, &local), 0)
        let localTotal = Double(local.f_blocks) * Double(local.f_frsize)
        XCTAssertEqual(Double(space.totalBytes), localTotal, accuracy: localTotal * 0.05)
        let metered = try XCTUnwrap(try MeteredVolume(f.anotherVolume()).spaceIfKnown())
        XCTAssertEqual(metered.totalBytes, space.totalBytes)
    }
}
