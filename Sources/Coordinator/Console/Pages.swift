import Foundation
import Hummingbird
import Mustache

/// Renders the console's pages: a page's template inside the layout, as an HTML response.
struct Pages: Sendable {
    let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, text) in Templates.all { try library.register(text, named: name) }
        self.library = library
    }

    /// `template` with `values`, in the layout with the title, the administrator, the session's CSRF token and
    /// the flash message. `values` always get `csrf` too.
    func page(_ template: String, title: String, context: ConsoleContext, flash: ConsoleSession.Flash?, values: [String: Any],
              status: HTTPResponse.Status = .ok) -> Response {
        var values = values
        values["csrf"] = context.session?.csrf ?? ""
        let body = library.render(values, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body, "csrf": context.session?.csrf ?? ""]
        if let admin = context.session?.admin { layout["admin"] = admin }
        if let flash { layout["flash"] = ["text": flash.text, "kind": flash.isError ? "error" : "ok"] }
        let html = library.render(layout, withTemplate: "layout") ?? ""
        return Self.html(html, status: status)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A short answer (an error) as plain text: nothing in it is HTML.
    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    /// 303 See Other: after a POST, and to the login page.
    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    static func css() -> Response {
        Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: Templates.css + "\n" + Templates.chartCSS)))
    }
}
