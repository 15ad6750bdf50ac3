import ArgumentParser
import Foundation
import SharedStore

/// `--json` on the list, show and status commands: one JSON object on one line, keys sorted, times in RFC 3339
/// UTC, absent values `null`. The shapes are documented in docs/cli.md and kept stable.
struct JSONOutputOption: ParsableArguments {
    @Flag(help: "Print one JSON object (docs/cli.md, \"JSON output\") instead of text.") var json = false
}

enum JSONOutput {
    static func print(_ object: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        Swift.print(String(decoding: data, as: UTF8.self))
    }

    static func time(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    static func optional(_ value: Any?) -> Any { value ?? NSNull() }

    static func lock(_ state: LockState) -> [String: Any] {
        func owner(_ kind: String, _ o: OwnerRecord) -> [String: Any] {
            ["state": kind, "node": o.node, "session": o.session, "since": time(o.since), "heartbeat": o.beat]
        }
        switch state {
        case .free: return ["state": "free"]
        case .session(let o): return owner("session", o)
        case .admin(let o): return owner("admin", o)
        case .claiming(let o): return ["state": "claiming", "node": optional(o?.node)]
        case .missing: return ["state": "missing"]
        }
    }

    static func session(_ s: NodeRecord.Session, node: String? = nil) -> [String: Any] {
        var out: [String: Any] = ["mailbox": s.mailbox, "session": s.session, "peer": s.peer, "since": time(s.since)]
        if let node { out["node"] = node }
        return out
    }
}
