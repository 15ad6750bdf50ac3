import CoreMetrics
import Synchronization
import XCTest

@testable import SharedStore

/// `CachingMetricsFactory`: one handler per label and dimensions, made once by the factory it wraps.
final class CachingMetricsFactoryTests: XCTestCase {
    /// Counts what it is asked to make; hands out a new handler each time.
    final class CountingFactory: MetricsFactory, Sendable {
        let made = Mutex(0)
        final class Handler: CounterHandler, TimerHandler, RecorderHandler, Sendable {
            func increment(by: Int64) {}
            func reset() {}
            func recordNanoseconds(_ duration: Int64) {}
            func record(_ value: Int64) {}
            func record(_ value: Double) {}
        }
        func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { made.withLock { $0 += 1 }; return Handler() }
        func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { made.withLock { $0 += 1 }; return Handler() }
        func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
            made.withLock { $0 += 1 }
            return Handler()
        }
        func destroyCounter(_ handler: any CounterHandler) {}
        func destroyRecorder(_ handler: any RecorderHandler) {}
        func destroyTimer(_ handler: any TimerHandler) {}
    }

    func testHandlersAreMadeOncePerLabelAndDimensions() {
        let inner = CountingFactory()
        let factory = CachingMetricsFactory(inner)
        let a = factory.makeCounter(label: "poplar_test_total", dimensions: [("result", "ok")])
        XCTAssertTrue(a === factory.makeCounter(label: "poplar_test_total", dimensions: [("result", "ok")]))
        XCTAssertFalse(a === factory.makeCounter(label: "poplar_test_total", dimensions: [("result", "failed")]))
        XCTAssertFalse(a === factory.makeCounter(label: "poplar_test_total", dimensions: []))
        let t = factory.makeTimer(label: "poplar_test_seconds", dimensions: [("call", "stat")])
        XCTAssertTrue(t === factory.makeTimer(label: "poplar_test_seconds", dimensions: [("call", "stat")]))
        XCTAssertEqual(inner.made.withLock { $0 }, 4, "three counters and one timer, each made once")
        // Recorders are not kept.
        _ = factory.makeRecorder(label: "poplar_test_bytes", dimensions: [], aggregate: true)
        _ = factory.makeRecorder(label: "poplar_test_bytes", dimensions: [], aggregate: true)
        XCTAssertEqual(inner.made.withLock { $0 }, 6)
    }
}
