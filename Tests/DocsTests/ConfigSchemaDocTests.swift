import Foundation
import XCTest

/// The configuration schema (Sources/poplar/ConfigSchema.swift) lists exactly the keys the code reads
/// (`reader.<type>(forKey: "…")`), each with the type it is read as, and docs/configuration.md documents each.
final class ConfigSchemaDocTests: XCTestCase {
    func matches(_ pattern: String, in text: String) throws -> [[String]] {
        let regex = try NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { match in
            (1..<match.numberOfRanges).map { String(text[Range(match.range(at: $0), in: text)!]) }
        }
    }

    func testTheSchemaIsTheKeysTheCodeReadsAndTheDocsList() throws {
        let root = ArchitectureDocTests.root
        let code = try ArchitectureDocTests.sources().map(\.text).joined(separator: "\n")
        let kinds = ["string": ".string", "int": ".integer", "double": ".number", "bool": ".boolean", "stringArray": ".strings", "size": ".size"]
        var read: [String: String] = [:]
        for m in try matches(#"reader\.(string|int|double|bool|stringArray|size)\(forKey: "([^"]+)""#, in: code) { read[m[1]] = kinds[m[0]] }
        let schemaText = try String(contentsOf: root.appendingPathComponent("Sources/poplar/ConfigSchema.swift"), encoding: .utf8)
        var schema: [String: String] = [:]
        for m in try matches(#""([a-z0-9.-]+)": (\.[a-z]+),"#, in: schemaText) { schema[m[0]] = m[1] }
        XCTAssertEqual(schema, read, "ConfigSchema.keys and the keys the code reads differ")
        let docs = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for key in read.keys.sorted() {
            XCTAssertTrue(docs.contains("`\(key)`"), "docs/configuration.md does not document \(key)")
        }
    }

    /// `poplar config check` prints ConfigSchema.defaults for a key nobody set: each must be what the docs' table
    /// says (its third column, without the backticks), and every key has one.
    func testTheDefaultsConfigCheckPrintsAreTheDocumentedOnes() throws {
        let root = ArchitectureDocTests.root
        let text = try String(contentsOf: root.appendingPathComponent("Sources/poplar/ConfigSchema+Defaults.swift"), encoding: .utf8)
        var defaults: [String: String] = [:]
        for m in try matches(#"\n        "([a-z0-9.-]+)": "((?:[^"\\]|\\.)*)","#, in: text) {
            defaults[m[0]] = m[1].replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
        }
        let schemaText = try String(contentsOf: root.appendingPathComponent("Sources/poplar/ConfigSchema.swift"), encoding: .utf8)
        let keys = try matches(#""([a-z0-9.-]+)": \.[a-z]+,"#, in: schemaText).map { $0[0] }
        XCTAssertEqual(Set(defaults.keys), Set(keys), "ConfigSchema.defaults must name every key of the schema")
        let docs = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        var checked = 0
        for line in docs.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.replacingOccurrences(of: "\\|", with: "\u{1}").split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\u{1}", with: "|") }
            guard cells.count >= 5 else { continue }
            for m in try matches("`([a-z0-9.-]+)`", in: cells[1]) where defaults[m[0]] != nil {
                XCTAssertEqual(defaults[m[0]], cells[3].replacingOccurrences(of: "`", with: ""), "default of \(m[0])")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, keys.count)
    }
}
