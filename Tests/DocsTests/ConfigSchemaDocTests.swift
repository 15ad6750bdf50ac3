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
        let kinds = ["string": ".string", "int": ".integer", "double": ".number", "bool": ".boolean", "stringArray": ".strings"]
        var read: [String: String] = [:]
        for m in try matches(#"reader\.(string|int|double|bool|stringArray)\(forKey: "([^"]+)""#, in: code) { read[m[1]] = kinds[m[0]] }
        let schemaText = try String(contentsOf: root.appendingPathComponent("Sources/poplar/ConfigSchema.swift"), encoding: .utf8)
        var schema: [String: String] = [:]
        for m in try matches(#""([a-z0-9.-]+)": (\.[a-z]+),"#, in: schemaText) { schema[m[0]] = m[1] }
        XCTAssertEqual(schema, read, "ConfigSchema.keys and the keys the code reads differ")
        let docs = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for key in read.keys.sorted() {
            XCTAssertTrue(docs.contains("`\(key)`"), "docs/configuration.md does not document \(key)")
        }
    }
}
