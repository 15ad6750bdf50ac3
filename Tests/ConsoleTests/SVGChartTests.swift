import XCTest

@testable import Console

/// Charts drawn on the server: SVG with no script and no inline style, its text escaped, one point per minute.
final class SVGChartTests: XCTestCase {
    func testAChartIsEscapedSVGWithALinePerSeries() {
        let svg = SVGChart.render(id: "c<1>", title: "A <b>title</b> & more", unit: "ms",
                                  series: [.init(name: "ok", colour: 0, values: [0, 5, 10]), .init(name: "<bad>", colour: 1, values: [1, 1, 1])])
        XCTAssertTrue(svg.hasPrefix("<svg id=\"c&lt;1&gt;\" class=\"chart\""))
        XCTAssertTrue(svg.contains("<title>A &lt;b&gt;title&lt;/b&gt; &amp; more</title>"))
        XCTAssertFalse(svg.contains("<b>") || svg.contains("<bad>"))
        XCTAssertEqual(svg.components(separatedBy: "<path ").count - 1, 2)
        XCTAssertTrue(svg.contains(">10</text>"), "the axis says the peak")
        XCTAssertTrue(svg.contains("d=\"M48 140 L"), "the first point at the origin: \(svg)")
        XCTAssertFalse(svg.contains("style=") || svg.contains("<script"), "nothing the CSP refuses")
    }

    func testNoDataIsAFlatChart() {
        let svg = SVGChart.render(id: "empty", title: "t", unit: "u", series: [.init(name: "s", colour: 0, values: Array(repeating: 0, count: 60))])
        XCTAssertTrue(svg.contains(">1</text>"), "a peak of at least 1, never a division by zero")
        XCTAssertFalse(svg.contains("nan") || svg.contains("inf"))
    }
}
