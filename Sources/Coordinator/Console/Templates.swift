/// The console's pages as mustache templates (swift-mustache): every value goes through `{{ }}`, which escapes
/// HTML; only `layout`'s `{{{body}}}` takes a page rendered here. No script anywhere: the Content-Security-Policy
/// allows none.
enum Templates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "domains": domains, "mailboxes": mailboxes, "mailbox": mailbox, "audit": audit, "cluster": cluster,
        "delivery": delivery, "badmail": badmailMessage, "charts": charts,
    ]

    static let layout = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Poplar console</title>
        <link rel="stylesheet" href="/console.css">
        </head>
        <body>
        <header>
        <span class="brand">Poplar</span>
        {{#admin}}
        <nav>
        <a href="/domains" id="nav-domains">Domains</a>
        <a href="/mailboxes" id="nav-mailboxes">Mailboxes</a>
        <a href="/cluster" id="nav-cluster">Cluster</a>
        <a href="/delivery" id="nav-delivery">Delivery</a>
        <a href="/charts" id="nav-charts">Charts</a>
        <a href="/audit" id="nav-audit">Audit log</a>
        </nav>
        <form method="post" action="/logout" class="logout">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <span class="who">{{admin}}</span> <button type="submit" id="logout">Log out</button>
        </form>
        {{/admin}}
        </header>
        <main>
        <h1>{{title}}</h1>
        {{#flash}}<p class="flash {{kind}}" id="flash">{{text}}</p>{{/flash}}
        {{{body}}}
        </main>
        </body>
        </html>
        """

    static let login = """
        <form method="post" action="/login" class="card" id="login-form">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Administrator <input name="name" id="name" autocomplete="username" maxlength="64" required autofocus></label>
        <label>Password <input name="password" id="password" type="password" autocomplete="current-password" maxlength="1024" required></label>
        <button type="submit" id="login">Log in</button>
        </form>
        """

    static let domains = """
        <form method="post" action="/domains/add" class="inline" id="add-domain">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Domain <input name="name" id="domain-name" maxlength="253" required></label>
        <button type="submit" id="add-domain-button">Add domain</button>
        </form>
        <table id="domains">
        <thead><tr><th>Domain</th><th>Login delay</th><th>Expire</th><th></th></tr></thead>
        <tbody>
        {{#domains}}
        <tr>
        <td><a href="/mailboxes?domain={{query}}">{{name}}</a></td>
        <td>{{loginDelay}}</td>
        <td>{{expire}}</td>
        <td>
        <form method="post" action="/domains/remove" class="inline">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="name" value="{{name}}">
        <label class="small"><input type="checkbox" name="purge" value="1"> and delete its mail</label>
        <button type="submit" class="danger">Remove</button>
        </form>
        <form method="post" action="/domains/rename" class="inline">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="name" value="{{name}}">
        <input name="new" maxlength="253" required aria-label="New name of {{name}}" id="rename-{{name}}">
        <button type="submit" id="rename-{{name}}-button">Rename</button>
        </form>
        </td>
        </tr>
        {{/domains}}
        {{^domains}}<tr><td colspan="4">No domain yet.</td></tr>{{/domains}}
        </tbody>
        </table>
        """

    static let mailboxes = """
        <form method="get" action="/mailboxes" class="inline" id="search">
        <label>Domain <select name="domain" id="domain-select">
        {{#domains}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/domains}}
        </select></label>
        <label>Search <input name="q" id="q" value="{{search}}" maxlength="64"></label>
        <button type="submit" id="search-button">Show</button>
        </form>
        {{#domain}}
        <p class="muted">{{matching}} mailboxes in {{domain}}{{#hasSearch}} containing “{{search}}”{{/hasSearch}}.</p>
        <table id="mailboxes">
        <thead><tr><th>Mailbox</th></tr></thead>
        <tbody>
        {{#mailboxes}}<tr><td><a href="/mailbox?address={{query}}">{{address}}</a></td></tr>{{/mailboxes}}
        {{^mailboxes}}<tr><td>No mailbox.</td></tr>{{/mailboxes}}
        </tbody>
        </table>
        <p class="pager">{{#first}}<a href="{{first}}" id="first-page">First page</a>{{/first}} {{#next}}<a href="{{next}}" id="next-page">Next page</a>{{/next}}</p>
        <h2>Add a mailbox</h2>
        <form method="post" action="/mailboxes/add" class="card" id="add-mailbox">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="domain" value="{{domain}}">
        <label>Name <span class="inline-field"><input name="mailbox" id="mailbox-name" maxlength="64" required> @{{domain}}</span></label>
        <label>Password <input name="password" id="mailbox-password" type="password" autocomplete="new-password" maxlength="1024" required></label>
        <label>Quota <input name="quota" id="mailbox-quota" placeholder="none, 500M, 2G" maxlength="32"></label>
        <label class="small"><input type="checkbox" name="apop" value="1"> allow APOP and CRAM-MD5</label>
        <button type="submit" id="add-mailbox-button">Add mailbox</button>
        </form>
        {{/domain}}
        {{^domain}}<p>Add a domain first.</p>{{/domain}}
        """

    static let mailbox = """
        <table class="facts" id="mailbox-facts">
        <tr><th>Mailbox</th><td id="mailbox-address">{{address}}</td></tr>
        <tr><th>Messages</th><td>{{messages}} ({{bytes}})</td></tr>
        <tr><th>Quota</th><td id="mailbox-quota-value">{{quota}}</td></tr>
        <tr><th>APOP</th><td>{{apop}}</td></tr>
        <tr><th>Password</th><td>{{password}}</td></tr>
        <tr><th>Lock</th><td>{{lock}}</td></tr>
        </table>
        <p><a href="/mailboxes?domain={{domainQuery}}">Back to {{domain}}</a></p>
        {{#lockActions}}
        <form method="post" action="/mailbox/kick" class="inline" id="lock-actions">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="address" value="{{address}}">
        {{#lockSession}}<input type="hidden" name="session" value="{{lockSession}}">
        <button type="submit" id="kick-button">Kick the session</button>{{/lockSession}}
        {{#lockAdmin}}<button type="submit" formaction="/mailbox/unlock" id="unlock-button">Unlock (administrator's lock)</button>{{/lockAdmin}}
        {{#lockBreakable}}<button type="submit" formaction="/mailbox/force-unlock" class="danger" id="force-unlock-button">Force unlock (dead holder: waits one lease)</button>{{/lockBreakable}}
        </form>
        {{/lockActions}}
        <h2>Recent sessions</h2>
        <table id="recent-sessions">
        <thead><tr><th>Login</th><th>Node</th><th>Client</th><th>Mechanism</th><th>Retrieved</th><th>Deleted</th><th>Ended</th></tr></thead>
        <tbody>
        {{#sessions}}<tr><td>{{at}}</td><td>{{node}}</td><td>{{client}}</td><td>{{mechanism}}</td><td>{{retrieved}} ({{bytes}})</td><td>{{deleted}}</td><td>{{ended}}</td></tr>{{/sessions}}
        {{^sessions}}<tr><td colspan="7">No session recorded (the access journal: pop3.access-journal).</td></tr>{{/sessions}}
        </tbody>
        </table>
        {{#hasPassword}}
        <h2>Reset the password</h2>
        <form method="post" action="/mailbox/password" class="card" id="reset-password">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="address" value="{{address}}">
        <label>New password <input name="password" id="new-password" type="password" autocomplete="new-password" maxlength="1024" required></label>
        <label class="small"><input type="checkbox" name="apop" value="1"{{#apopAllowed}} checked{{/apopAllowed}}> allow APOP and CRAM-MD5</label>
        <button type="submit" id="reset-password-button">Set password</button>
        </form>
        {{/hasPassword}}
        <h2>Quota</h2>
        <form method="post" action="/mailbox/quota" class="card" id="set-quota">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="address" value="{{address}}">
        <label>Quota <input name="quota" id="quota" value="{{quotaInput}}" placeholder="none, 500M, 2G" maxlength="32"></label>
        <button type="submit" id="set-quota-button">Set quota</button>
        </form>
        <h2>Rename</h2>
        <form method="post" action="/mailbox/rename" class="card" id="rename-mailbox">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="address" value="{{address}}">
        <label>New address <input name="new" id="new-address" maxlength="320" required placeholder="user@domain"></label>
        <button type="submit" id="rename-mailbox-button">Rename mailbox</button>
        </form>
        <h2>Remove</h2>
        <form method="post" action="/mailbox/remove" class="card" id="remove-mailbox">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="address" value="{{address}}">
        <label class="small"><input type="checkbox" name="confirm" value="1" id="remove-confirm" required> delete this mailbox and every message in it</label>
        <button type="submit" class="danger" id="remove-mailbox-button">Remove mailbox</button>
        </form>
        """

    static let audit = """
        <p class="muted">The newest {{count}} changes, newest first, from every console and the command line.</p>
        <table id="audit">
        <thead><tr><th>When (UTC)</th><th>Who</th><th>From</th><th>What</th><th>On</th><th>Detail</th></tr></thead>
        <tbody>
        {{#entries}}<tr><td>{{when}}</td><td>{{who}}</td><td>{{from}}</td><td>{{action}}</td><td>{{target}}</td><td>{{detail}}</td></tr>{{/entries}}
        {{^entries}}<tr><td colspan="6">No change recorded yet.</td></tr>{{/entries}}
        </tbody>
        </table>
        """

    static let css = """
        body { font-family: system-ui, sans-serif; margin: 0; color: #1d2327; background: #f6f7f7; }
        header { display: flex; align-items: center; gap: 1.5rem; background: #24453a; color: #fff; padding: 0.6rem 1.2rem; }
        header a { color: #fff; text-decoration: none; margin-right: 1rem; }
        header a:hover { text-decoration: underline; }
        .brand { font-weight: 700; font-size: 1.2rem; }
        .logout { margin-left: auto; }
        .who { opacity: 0.85; margin-right: 0.5rem; }
        main { padding: 1rem 1.5rem; max-width: 70rem; }
        h1 { font-size: 1.5rem; }
        table { border-collapse: collapse; background: #fff; margin: 1rem 0; min-width: 30rem; }
        th, td { border: 1px solid #dcdcde; padding: 0.35rem 0.7rem; text-align: left; }
        th { background: #f0f0f1; }
        .card { background: #fff; border: 1px solid #dcdcde; padding: 1rem; max-width: 28rem; display: grid; gap: 0.7rem; }
        .card label { display: grid; gap: 0.2rem; }
        .inline { display: flex; gap: 0.7rem; align-items: center; flex-wrap: wrap; }
        .inline-field { display: flex; gap: 0.3rem; align-items: center; }
        .small { font-size: 0.85rem; }
        .card label.small { display: flex; align-items: center; gap: 0.4rem; }
        .muted { color: #646970; }
        .flash { padding: 0.6rem 1rem; border-left: 4px solid #00a32a; background: #fff; }
        .flash.error { border-left-color: #d63638; }
        button { padding: 0.3rem 0.9rem; }
        button.danger { color: #b32d2e; }
        .pager a { margin-right: 1rem; }
        """
}
