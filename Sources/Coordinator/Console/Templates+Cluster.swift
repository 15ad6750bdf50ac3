extension Templates {
    static let cluster = """
        <p class="muted" id="cluster-summary">{{nodeCount}} nodes, {{sessionCount}} sessions, {{heldCount}} mailboxes held.</p>
        <p id="delivery">{{delivery}}</p>
        <table id="coordinators">
        <thead><tr><th>Coordinator</th><th>State</th><th>Last seen (its stats, every 10 s)</th></tr></thead>
        <tbody>
        {{#coordinators}}<tr><td>{{id}}</td><td>{{state}}</td><td>{{published}}</td></tr>{{/coordinators}}
        {{^coordinators}}<tr><td colspan="3">No coordinator has run since the store had stats.</td></tr>{{/coordinators}}
        </tbody>
        </table>
        <table id="nodes">
        <thead><tr><th>Node</th><th>Address</th><th>Version</th><th>State</th><th>Sessions</th><th></th></tr></thead>
        <tbody>
        {{#nodes}}
        <tr>
        <td>{{node}}</td><td>{{address}}</td><td>{{version}}</td>
        <td>{{state}}{{#silent}} SILENT{{/silent}}</td>
        <td>{{count}}{{#sessions}}<br><a href="/mailbox?address={{query}}">{{mailbox}}</a> ({{session}} from {{peer}} since {{since}}){{/sessions}}</td>
        <td>{{^draining}}<form method="post" action="/cluster/drain" class="inline">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="node" value="{{node}}">
        <button type="submit" class="danger" id="drain-{{node}}">Drain</button>
        </form>{{/draining}}</td>
        </tr>
        {{/nodes}}
        {{^nodes}}<tr><td colspan="6">No node has published itself.</td></tr>{{/nodes}}
        </tbody>
        </table>
        """
}
