import Foundation

/// A line chart drawn on the server as SVG (no script, no inline style: the console's CSP allows neither): one
/// point per minute of the last hour, a line per series, the axis labelled with its largest value. Pure: tested
/// without a server (`SVGChartTests`).
struct SVGChart {
    struct Series {
        var name: String
        /// A colour class in the console's style sheet (`.c0`, `.c1`).
        var colour: Int
        /// One value per minute, oldest first; nil where nothing was counted.
        var values: [Double]
    }

    static let width = 600.0, height = 160.0, left = 48.0, bottom = 20.0, top = 8.0

    /// The SVG element; `title` and series names are escaped, every number is formatted here.
    static func render(id: String, title: String, unit: String, series: [Series]) -> String {
        let points = series.map(\.values.count).max() ?? 0
        let peak = max(series.flatMap(\.values).max() ?? 0, 1)
        let plotW = width - left - 8, plotH = height - top - bottom
        func x(_ i: Int) -> Double { left + (points > 1 ? Double(i) / Double(points - 1) : 0) * plotW }
        func y(_ v: Double) -> Double { top + plotH - (v / peak) * plotH }
        var svg = "<svg id=\"\(escape(id))\" class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<title>\(escape(title))</title>"
        svg += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\"/>"
        svg += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\"/>"
        svg += "<text class=\"label\" x=\"\(f(left - 4))\" y=\"\(f(top + 10))\" text-anchor=\"end\">\(f(peak))</text>"
        svg += "<text class=\"label\" x=\"\(f(left - 4))\" y=\"\(f(top + plotH))\" text-anchor=\"end\">0</text>"
        svg += "<text class=\"label\" x=\"\(f(left))\" y=\"\(f(height - 4))\">−60 min</text>"
        svg += "<text class=\"label\" x=\"\(f(left + plotW))\" y=\"\(f(height - 4))\" text-anchor=\"end\">now (\(escape(unit)))</text>"
        for s in series where !s.values.isEmpty {
            let path = s.values.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(f(x($0.offset))) \(f(y($0.element)))" }.joined(separator: " ")
            svg += "<path class=\"line c\(s.colour % 4)\" d=\"\(path)\"><title>\(escape(s.name))</title></path>"
        }
        return svg + "</svg>"
    }

    static func f(_ v: Double) -> String {
        v == v.rounded() ? String(Int64(v)) : String(format: "%.1f", v)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
