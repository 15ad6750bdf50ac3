import XCTest

@testable import SharedStore

/// `MetricHandles`: nothing kept before the process says its metrics backend is in place; then one handle per label
/// and dimensions.
final class MetricHandlesTests: XCTestCase {
    func testHandlesAreKeptOnlyOnceCachingStarted() {
        // Before: every call makes its own (a handle of the no-op factory must not outlive the bootstrap).
        XCTAssertFalse(MetricHandles.counter("poplar_test_total") === MetricHandles.counter("poplar_test_total"))

        MetricHandles.startCaching()
        let a = MetricHandles.counter("poplar_test_total", [("result", "ok")])
        XCTAssertTrue(a === MetricHandles.counter("poplar_test_total", [("result", "ok")]))
        XCTAssertFalse(a === MetricHandles.counter("poplar_test_total", [("result", "failed")]))
        XCTAssertFalse(a === MetricHandles.counter("poplar_test_total"))
        let t = MetricHandles.timer("poplar_test_seconds", [("call", "stat")])
        XCTAssertTrue(t === MetricHandles.timer("poplar_test_seconds", [("call", "stat")]))
    }
}
