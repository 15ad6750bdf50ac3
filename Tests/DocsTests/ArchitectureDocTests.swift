import Foundation
import XCTest

/// docs/architecture.md names the types each journey passes through; this keeps it true when the code moves: every
/// `Type`, `Type.member` and `Type+Feature` it names must exist in Sources/.
final class ArchitectureDocTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every Swift file under Sources/: name and text.
    static func sources() throws -> [(name: String, text: String)] {
        let base = root.appendingPathComponent("Sources")
        var files: [(String, String)] = []
        let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil)
        while let url = walker?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            files.append((url.lastPathComponent, try String(contentsOf: url, encoding: .utf8)))
        }
        return files
    }

    /// Backticked names that look like Swift types: `POP3Session`, `MailStore.take`, `POP3Session+Login`.
    static func namedTypes(in doc: String) -> Set<String> {
        var names: Set<String> = []
        let parts = doc.components(separatedBy: "`")
        for (i, part) in parts.enumerated() where i % 2 == 1 {
            guard let first = part.unicodeScalars.first, CharacterSet.uppercaseLetters.contains(first),
                part.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "+" }),
                part.contains(where: \.isLowercase)
            else { continue }
            names.insert(part)
        }
        return names
    }

    func testEveryTypeTheArchitectureNamesExists() throws {
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        let files = try Self.sources()
        let all = files.map(\.text).joined(separator: "\n")
        // Targets are named too (Package.swift), and a few types of the libraries Poplar builds on.
        let package = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let targets = Set(package.components(separatedBy: "name: \"").dropFirst().compactMap { $0.split(separator: "\"").first.map(String.init) })
        let libraryTypes: Set<String> = ["EmbeddedEventLoop", "NIOAsyncTestingEventLoop", "NIOSSLServerHandler", "NIOThreadPool"]
        let names = Self.namedTypes(in: doc).subtracting(targets).subtracting(libraryTypes)
        XCTAssertGreaterThan(names.count, 40, "the journeys name the types they pass through")
        for name in names.sorted() {
            if name.contains("+") {
                XCTAssertTrue(files.contains { $0.name == "\(name).swift" }, "docs/architecture.md names \(name): no \(name).swift")
                continue
            }
            let pieces = name.split(separator: ".")
            let type = String(pieces[0])
            let declared = ["class", "struct", "enum", "protocol", "extension", "actor", "typealias"].contains {
                all.contains("\($0) \(type) ") || all.contains("\($0) \(type):") || all.contains("\($0) \(type)<")
            }
            XCTAssertTrue(declared, "docs/architecture.md names \(type), which no source declares")
            if pieces.count == 2 {
                let member = String(pieces[1])
                let found = ["func \(member)(", "func \(member)<", "var \(member)", "let \(member)", "case \(member)"].contains { all.contains($0) }
                XCTAssertTrue(found, "docs/architecture.md names \(name), which no source declares")
            }
        }
    }
}
