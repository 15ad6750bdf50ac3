import Admin
import Foundation

/// Every key a configuration file may hold, with its JSON type (docs/configuration.md). A file with a key not here,
/// or a value of another type, is refused at start with exit 78 (EX_CONFIG), naming the file, the key and what is
/// expected, rather than ignored. `ConfigSchemaDocTests` keeps this list equal to the keys the code reads.
enum ConfigSchema {
    enum Kind: String {
        case string = "a string"
        case integer = "a whole number"
        case number = "a number"
        case boolean = "true or false"
        case strings = "a list of strings"
        case size = "a size: a whole number of bytes, or a string with a unit (\"64M\", \"1.5GiB\")"
    }

    static let keys: [String: Kind] = [
        "auth.autocreate": .boolean,
        "auth.backend": .string,
        "auth.ldap.base": .string,
        "auth.ldap.bind-dn": .string,
        "auth.ldap.bind-password-file": .string,
        "auth.ldap.ca-file": .string,
        "auth.ldap.filter": .string,
        "auth.ldap.group-dn": .string,
        "auth.ldap.pool-size": .integer,
        "auth.ldap.preset": .string,
        "auth.ldap.starttls": .boolean,
        "auth.ldap.uri": .string,
        "auth.oauth.audience": .string,
        "auth.oauth.issuer": .string,
        "auth.oauth.jwks-file": .string,
        "auth.oauth.user-claim": .string,
        "auth.pam.group": .string,
        "auth.pam.service": .string,
        "auth.timeout": .number,
        "coordinator.hostname": .string,
        "coordinator.http-listen": .strings,
        "coordinator.id": .string,
        "coordinator.lmtp": .strings,
        "coordinator.max-message-size": .size,
        "coordinator.max-recipients": .integer,
        "coordinator.mta-networks": .string,
        "coordinator.normalize-bare-line-endings": .boolean,
        "coordinator.pickup-interval": .number,
        "coordinator.smtp": .strings,
        "coordinator.socketmap": .strings,
        "coordinator.spool": .string,
        "guid-file": .string,
        "http.allow": .string,
        "http.listen": .strings,
        "log.format": .string,
        "log.level": .string,
        "node.id": .string,
        "node.registry-interval": .number,
        "pop3.auth-failure-delay": .number,
        "pop3.auth-idle-timeout": .number,
        "pop3.auth-penalty-exempt": .string,
        "pop3.auth-penalty-max": .number,
        "pop3.backlog": .integer,
        "pop3.cram-md5": .boolean,
        "pop3.drain-time": .number,
        "pop3.greeting": .string,
        "pop3.idle-timeout": .number,
        "pop3.implementation": .string,
        "pop3.listen": .strings,
        "pop3.login-timeout": .number,
        "pop3.max-bad-commands": .integer,
        "pop3.max-connections": .integer,
        "pop3.max-connections-per-ip": .integer,
        "pop3.ntlm": .boolean,
        "pop3.plaintext": .string,
        "pop3.scram": .boolean,
        "pop3.access-journal": .boolean,
        "pop3.tls-listen": .strings,
        "proxy.trusted": .string,
        "root": .string,
        "tls.cert": .string,
        "tls.key": .string,
        "tls.min-version": .string,
        "tls.tls12-ciphers": .string,
    ]

    /// What is wrong with a configuration file's JSON, one line per mistake; empty when nothing is.
    static func problems(in json: Any) -> [String] {
        guard let object = json as? [String: Any] else { return ["the file must hold a JSON object"] }
        var problems: [String] = []
        walk(object, prefix: "", into: &problems)
        return problems
    }

    private static func walk(_ object: [String: Any], prefix: String, into problems: inout [String]) {
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            let key = prefix.isEmpty ? name : prefix + "." + name
            if let kind = keys[key] {
                if !matches(value, kind) { problems.append("key \(key): expected \(kind.rawValue), found \(describe(value))") }
            } else if let nested = value as? [String: Any], keys.keys.contains(where: { $0.hasPrefix(key + ".") }) {
                walk(nested, prefix: key, into: &problems)
            } else {
                let hint: String
                if let near = keys.keys.min(by: { distance($0, key) < distance($1, key) }), distance(near, key) <= 3 {
                    hint = " (did you mean \(near)?)"
                } else {
                    let sections = Set(keys.keys.map { $0.split(separator: ".").first.map(String.init) ?? $0 }).sorted()
                    hint = " (the top-level keys are \(sections.joined(separator: ", ")); docs/configuration.md lists every key)"
                }
                problems.append("unknown key \(key)\(hint)")
            }
        }
    }

    /// Edit distance (Levenshtein), for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard !x.isEmpty, !y.isEmpty else { return max(x.count, y.count) }
        var row = Array(0...y.count)
        for i in 1...x.count {
            var previous = row[0]
            row[0] = i
            for j in 1...y.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (x[i - 1] == y[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[y.count]
    }

    static func matches(_ value: Any, _ kind: Kind) -> Bool {
        let isBool = isBoolean(value)
        switch kind {
        case .string: return value is String
        case .boolean: return isBool
        case .integer:
            guard !isBool, let n = value as? NSNumber else { return false }
            return n.doubleValue == n.doubleValue.rounded() && abs(n.doubleValue) < 9e15
        case .number: return !isBool && value is NSNumber
        case .strings: return (value as? [Any])?.allSatisfy { $0 is String } ?? false
        case .size: return matches(value, .integer) || (value as? String).flatMap(ByteSize.parse) != nil
        }
    }

    /// JSON's true and false, as Foundation hands them over (an NSNumber of type char, "c").
    static func isBoolean(_ value: Any) -> Bool {
        guard let n = value as? NSNumber, !(value is String) else { return false }
        return String(cString: n.objCType) == "c"
    }

    static func describe(_ value: Any) -> String {
        if let n = value as? NSNumber { return isBoolean(value) ? "true or false" : "the number \(n)" }
        if value is String { return "a string" }
        if value is [Any] { return "a list" }
        if value is [String: Any] { return "an object" }
        return "null"
    }
}
