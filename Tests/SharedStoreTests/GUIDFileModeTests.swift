import Foundation
import XCTest

@testable import SharedStore

/// The GUID file is refused when its group or others may access it, with the command that fixes it; `poplar init`
/// (`loadOrCreate`) creates it 0600 in the open itself.
final class GUIDFileModeTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "poplar-guid-mode-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A GUID file with exactly `mode` (set after writing, whatever the umask).
    func guidFile(_ name: String, mode: Int) throws -> (String, ClusterGUID) {
        let g = ClusterGUID.generate()
        let path = dir + "/" + name
        try (g.text + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return (path, g)
    }

    func testGroupOrOthersAccessIsRefusedWithTheFix() throws {
        let expected: [(Int, String)] = [
            (0o644, "readable by its group and by others (mode 0644)"),
            (0o640, "readable by its group (mode 0640)"),
            (0o660, "readable and writable by its group (mode 0660)"),
            (0o604, "readable by others (mode 0604)"),
            (0o602, "writable by others (mode 0602)"),
            (0o610, "executable by its group (mode 0610)"),
            (0o666, "readable and writable by its group and by others (mode 0666)"),
            (0o624, "readable by others and writable by its group (mode 0624)"),
        ]
        for (mode, problem) in expected {
            let (path, _) = try guidFile("guid-\(String(mode, radix: 8))", mode: mode)
            XCTAssertThrowsError(try ClusterGUID.load(fromFile: path), String(mode, radix: 8)) { e in
                guard let e = e as? StoreError else { return XCTFail("\(e)") }
                XCTAssertEqual(e.code, .permissionDenied)
                XCTAssertEqual(e.message, "the GUID file \(path) is \(problem): run chmod 600 \(path)")
            }
            XCTAssertThrowsError(try ClusterGUID.loadOrCreate(file: path), "an existing file is loaded, and checked")
        }
    }

    func testOwnerOnlyIsAccepted() throws {
        for mode in [0o600, 0o400] {
            let (path, g) = try guidFile("guid-\(String(mode, radix: 8))", mode: mode)
            XCTAssertEqual(try ClusterGUID.load(fromFile: path), g)
            XCTAssertEqual(try ClusterGUID.loadOrCreate(file: path).0, g)
        }
    }

    /// Created 0600 by the open itself: even with an empty umask it is never wider.
    func testCreatedWithMode0600() throws {
        let old = umask(0)
        defer { umask(old) }
        let path = dir + "/sub/guid"
        let (g, created) = try ClusterGUID.loadOrCreate(file: path)
        XCTAssertTrue(created)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, 0o600)
        XCTAssertEqual(try ClusterGUID.load(fromFile: path), g)
    }
}
