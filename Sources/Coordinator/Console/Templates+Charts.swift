extension Templates {
    /// The charts are SVG made by `SVGChart` from numbers only (its text escaped there): inserted as they are.
    static let charts = """
        <p class="muted" id="charts-summary">The last hour, every node and coordinator together, from their own metrics (published every 10 s): {{sessions}} sessions, {{loginsOK}} logins ok, {{loginsFailed}} failed, {{deliveries}} deliveries, {{storeCalls}} store calls.</p>
        <h2>Sessions</h2>
        {{{sessionsChart}}}
        <h2>Logins (ok, failed)</h2>
        {{{loginsChart}}}
        <h2>Store latency</h2>
        {{{storeChart}}}
        <h2>Deliveries</h2>
        {{{deliveriesChart}}}
        """

    static let chartCSS = """
        svg.chart { background: #fff; border: 1px solid #dcdcde; display: block; margin-bottom: 0.5rem; }
        svg.chart .axis { stroke: #8c8f94; stroke-width: 1; }
        svg.chart .label { font-size: 10px; fill: #50575e; }
        svg.chart .line { fill: none; stroke-width: 2; }
        svg.chart .c0 { stroke: #24453a; }
        svg.chart .c1 { stroke: #b32d2e; }
        svg.chart .c2 { stroke: #2271b1; }
        svg.chart .c3 { stroke: #996800; }
        """
}
