extension Templates {
    static let delivery = """
        <p id="pickup-summary">Pickup: {{waiting}} file{{^one}}s{{/one}} waiting{{#oldest}} (the oldest since {{oldest}}){{/oldest}}. The active coordinator delivers them at its next scan.</p>
        <h2>Badmail</h2>
        <p class="muted">What could not be delivered, newest first ({{count}} shown), with the reason the coordinator gave. Retry puts a file back into pickup.</p>
        <table id="badmail">
        <thead><tr><th>File</th><th>Size</th><th>When (UTC)</th><th>Reason</th><th></th></tr></thead>
        <tbody>
        {{#badmail}}
        <tr>
        <td><a href="/delivery/badmail?name={{query}}">{{name}}</a></td><td>{{size}}</td><td>{{when}}</td><td>{{reason}}</td>
        <td><form method="post" action="/delivery/retry" class="inline">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="name" value="{{name}}">
        <button type="submit" id="retry-{{name}}">Retry</button>
        <button type="submit" formaction="/delivery/delete" class="danger" id="delete-{{name}}">Delete</button>
        </form></td>
        </tr>
        {{/badmail}}
        {{^badmail}}<tr><td colspan="5">Badmail is empty.</td></tr>{{/badmail}}
        </tbody>
        </table>
        """

    static let badmailMessage = """
        <p><a href="/delivery">Back to delivery</a></p>
        <h2 id="badmail-name">{{name}}</h2>
        <p>Reason:</p>
        <pre id="badmail-reason">{{reason}}</pre>
        <p>The message{{#truncated}} (its first {{shown}}){{/truncated}}:</p>
        <pre id="badmail-message">{{text}}</pre>
        """
}
