import Admin
import Foundation
import Hummingbird
import SharedStore

/// The charts page: the last hour, per minute, summed over every node and coordinator of the cluster from their
/// own metrics (`.poplar/stats/`): sessions, logins ok and failed, the store's mean call latency, deliveries.
extension ConsoleHandlers {
    func chartsPage(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let now = MinuteStats.minute(ofNow: Date())
        let samples: [MinuteSample]
        do {
            samples = try await backend.run { [admin] in try admin.clusterStats(since: now - MinuteStats.minutes) }
        } catch let error as AdminError {
            return pages.page("charts", title: "Charts", context: context, flash: .init(text: error.description, isError: true),
                              values: [:], status: .serviceUnavailable)
        }
        let byMinute = Dictionary(samples.map { ($0.minute, $0.values) }, uniquingKeysWith: { a, _ in a })
        let minutes = ((now - MinuteStats.minutes + 1)...now).map { byMinute[$0] ?? [:] }
        func values(_ s: StatSeries) -> [Double] { minutes.map { Double($0[s] ?? 0) } }
        let latency = minutes.map { m -> Double in
            let calls = m[.storeCalls] ?? 0
            return calls > 0 ? Double(m[.storeMicroseconds] ?? 0) / Double(calls) / 1000 : 0
        }
        let totals = samples.reduce(into: [StatSeries: Int64]()) { sum, s in for (k, v) in s.values { sum[k, default: 0] += v } }
        let charts = [
            SVGChart.render(id: "chart-sessions", title: "POP3 sessions per minute", unit: "sessions",
                            series: [.init(name: "sessions", colour: 0, values: values(.sessions))]),
            SVGChart.render(id: "chart-logins", title: "Logins per minute: ok and failed", unit: "logins",
                            series: [.init(name: "ok", colour: 0, values: values(.loginsOK)), .init(name: "failed", colour: 1, values: values(.loginsFailed))]),
            SVGChart.render(id: "chart-store", title: "Mean store call latency per minute", unit: "ms",
                            series: [.init(name: "latency", colour: 2, values: latency)]),
            SVGChart.render(id: "chart-deliveries", title: "Deliveries per minute", unit: "messages",
                            series: [.init(name: "deliveries", colour: 3, values: values(.deliveries))]),
        ]
        return page("charts", title: "Charts", context, [
            "sessionsChart": charts[0], "loginsChart": charts[1], "storeChart": charts[2], "deliveriesChart": charts[3],
            "sessions": totals[.sessions] ?? 0, "loginsOK": totals[.loginsOK] ?? 0, "loginsFailed": totals[.loginsFailed] ?? 0,
            "deliveries": totals[.deliveries] ?? 0, "storeCalls": totals[.storeCalls] ?? 0,
        ])
    }
}
