import Foundation
import TestSupport
import XCTest

@testable import SharedStore

/// The sources of `poplar import` as pure parsers (fixture tables) and over temporary directories: Dovecot's
/// uidlist and UIDL format, mbox splitting and unquoting, a Windows 2003 mail root. The real Dovecot check is
/// Tests/clients/import_sources.py.
final class ImportSourcesTests: XCTestCase {
    // MARK: Dovecot

    func testUIDListVersion3AndVersion1() throws {
        let v3 = try DovecotUIDList.parse(Array("""
            3 V1733400000 N4 G0a1b2c3d4e5f
            1 :1733400001.M1P10.host
            2 W1234 G99aa :1733400002.M2P10.host,S=1200
            3 P0000abcd O1 :1733400003.M3P10.host

            """.utf8))
        XCTAssertEqual(v3.version, 3)
        XCTAssertEqual(v3.uidValidity, 1_733_400_000)
        XCTAssertEqual(v3.nextUID, 4)
        XCTAssertEqual(v3.records.map(\.uid), [1, 2, 3])
        XCTAssertEqual(v3.records.map(\.fileName), ["1733400001.M1P10.host", "1733400002.M2P10.host,S=1200", "1733400003.M3P10.host"])
        XCTAssertEqual(v3.records[1].guid, "99aa")
        XCTAssertEqual(v3.records[2].pop3UIDL, "0000abcd")
        XCTAssertEqual(v3.records[2].pop3Order, 1)
        let v1 = try DovecotUIDList.parse(Array("1 1733400000 3\n1 1733400001.M1P10.host\n2 1733400002.M2P10.host\n".utf8))
        XCTAssertEqual(v1.records.map(\.uid), [1, 2])
        XCTAssertEqual(v1.records[1].fileName, "1733400002.M2P10.host")
        for bad in ["", "2 V1 N2\n", "3 N2\n", "3 V1 N2\nx :name\n", "3 V1 N2\n1 W1\n", "3 V1 N2\n1 :a/b\n"] {
            XCTAssertThrowsError(try DovecotUIDList.parse(Array(bad.utf8)), bad)
        }
    }

    func testUIDLFormatLikeDovecotsVarExpand() throws {
        let cases: [(String, String)] = [
            ("%08Xu%08Xv", "0000002a6751a3c0"),  // Dovecot's default: printf("%llx"), lowercase
            ("%u", "42"),
            ("%v", "1733403584"),
            ("%{uid}-%{uidvalidity}", "42-1733403584"),
            ("%f", "1733400001.M1P10.host"),
            ("%g", "99aa"),
            ("%08XUu", "0000002A"),
            ("%Lf", "1733400001.m1p10.host"),
            ("%4f", "1733"),
            ("%-4.f", "host"),
            ("UID%u-%v", "UID42-1733403584"),
            ("100%%", "100%"),
        ]
        for (format, expected) in cases {
            let f = try DovecotUIDLFormat(format)
            XCTAssertEqual(f.expand(uid: 42, uidValidity: 1_733_403_584, fileName: "1733400001.M1P10.host", guid: "99aa"), expected, format)
        }
        for bad in ["", "%", "%m", "%{md5}", "%q", "%{uid", "%08X"] {
            XCTAssertThrowsError(try DovecotUIDLFormat(bad), bad)
        }
    }

    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "poplar-import-src-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
    }

    func testMaildirPlanUsesTheUIDListAndDerivesTheRest() throws {
        let dir = try temporaryDirectory()
        try write(dir + "/cur/1733400001.M1P10.host,S=20:2,S", "Subject: one\n\n1\n")
        try write(dir + "/new/1733400002.M2P10.host", "Subject: two\n\n2\n")
        try write(dir + "/new/1733400009.M9P10.host", "Subject: unlisted\n\n9\n")
        try write(dir + "/dovecot-uidlist", "3 V1733403584 N4\n1 :1733400001.M1P10.host,S=20\n2 :1733400002.M2P10.host\n3 :1733400003.gone\n")
        let before = try snapshot(dir)
        let plan = try MaildirImport.plan(directory: dir)
        XCTAssertEqual(plan.items.map(\.uidl).prefix(2), ["000000016751a3c0", "000000026751a3c0"])
        XCTAssertEqual(plan.items.count, 3)
        XCTAssertEqual(plan.items[2].uidl, ImportItem.derivedUIDL(kind: "maildir", key: Array("1733400009.M9P10.host".utf8)))
        XCTAssertEqual(plan.notes.count, 2)
        XCTAssertEqual(String(decoding: try plan.items[0].load(), as: UTF8.self), "Subject: one\n\n1\n")
        XCTAssertThrowsError(try MaildirImport.plan(directory: dir + "/cur"))
        // Not a regular file under a message's name: an error for it, no hang (a FIFO would block a plain open).
        XCTAssertEqual(mkfifo(dir + "/fifo", 0o600), 0)
        XCTAssertThrowsError(try ImportSourceFile.read(dir + "/fifo", limit: 100))
        try? FileManager.default.removeItem(atPath: dir + "/fifo")
        // Imported, then again: nothing new; the source is as it was.
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        XCTAssertEqual(try f.store.importMessages(plan.items, to: a).messages, 3)
        XCTAssertEqual(try f.store.importMessages(try MaildirImport.plan(directory: dir).items, to: a).skipped, 3)
        XCTAssertEqual(try snapshot(dir), before)
    }

    func testCourierSizeListAndItsUIDLs() throws {
        let list = try CourierSizeList.parse(Array("""
            /3 5 1733400000
            1733400001.M1P10.host:2,S 1200 1:1733400000:0
            1733400002.M2P10.host 800 2:1733400000
            old name with spaces:2, 10 3:0:0
            1733400004.M4P10.host'+"x 10 0:0:0
            garbage line
            1733400005.M5P10.host notasize 5:1733400000

            """.utf8))
        XCTAssertEqual(list.version, 3)
        XCTAssertEqual(list.records.map(\.uidl), ["UID1-1733400000", "UID2-1733400000", "UID3", "1733400004.M4P10.host+27+2B+22x"])
        XCTAssertEqual(list.records[2].fileName, "old name with spaces:2,")
        for bad in ["", "3 V1 N2\n", "/1 2 3\n", "/x\n"] {
            XCTAssertThrowsError(try CourierSizeList.parse(Array(bad.utf8)), bad)
        }
    }

    func testCourierMaildirPlan() throws {
        let dir = try temporaryDirectory()
        try write(dir + "/cur/1733400002.M2P10.host:2,S", "Subject: two\n\n2\n")
        try write(dir + "/cur/1733400001.M1P10.host:2,", "Subject: one\n\n1\n")
        try write(dir + "/new/1733400009.M9P10.host", "Subject: new\n\n9\n")
        try write(dir + "/courierpop3dsizelist", "/3 3 1733400000\n1733400002.M2P10.host:2, 20 2:1733400000:0\n1733400001.M1P10.host 20 1:1733400000:0\n")
        let plan = try MaildirImport.plan(directory: dir)
        XCTAssertEqual(plan.items.map(\.uidl), ["UID1-1733400000", "UID2-1733400000",
                                              ImportItem.derivedUIDL(kind: "maildir", key: Array("1733400009.M9P10.host".utf8))])
        // With a dovecot-uidlist too (a Maildir Dovecot served after Courier), Dovecot's list wins.
        // (Dovecot's courier-dovecot-migrate.pl keeps Courier's UIDLs as P extensions.)
        try write(dir + "/dovecot-uidlist", "3 V7 N3\n1 PUID1-1733400000 :1733400001.M1P10.host\n2 :1733400002.M2P10.host\n")
        XCTAssertEqual(try MaildirImport.plan(directory: dir).items.prefix(2).map(\.uidl), ["UID1-1733400000", "0000000200000007"])
    }

    /// Every file's path, size and modification time: what "the source is never changed" means here.
    func snapshot(_ dir: String) throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: dir).sorted().map { p in
            let a = try FileManager.default.attributesOfItem(atPath: dir + "/" + p)
            return "\(p) \(a[.size] ?? 0) \((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }
    }

    // MARK: mbox

    func testMboxSplittingUnquotingAndXUIDL() throws {
        let mbox = """
            From alice@example.test Thu Dec  4 10:00:00 2026
            Subject: one
            X-UIDL: 3f2a9c1e0b

            Hello
            >From the start
            >>From deeper
            From not a separator (no empty line before)

            From bob@example.test Thu Dec  4 11:00:00 2026
            Subject: two
            Content-Length: 3

            no X-UIDL, and a Content-Length that is wrong

            """
        let data = Array(mbox.utf8)
        let messages = try MboxImport.split(data)
        XCTAssertEqual(messages.count, 2)
        XCTAssertEqual(messages[0].fromLine, "From alice@example.test Thu Dec  4 10:00:00 2026")
        let first = Array(data[messages[0].range])
        XCTAssertEqual(String(decoding: MboxImport.unquote(first, .mboxrd), as: UTF8.self),
                       "Subject: one\nX-UIDL: 3f2a9c1e0b\n\nHello\nFrom the start\n>From deeper\nFrom not a separator (no empty line before)\n")
        XCTAssertEqual(String(decoding: MboxImport.unquote(first, .mboxo), as: UTF8.self),
                       "Subject: one\nX-UIDL: 3f2a9c1e0b\n\nHello\nFrom the start\n>>From deeper\nFrom not a separator (no empty line before)\n")
        XCTAssertEqual(MboxImport.xUIDL(first), "3f2a9c1e0b")
        XCTAssertNil(MboxImport.xUIDL(Array(data[messages[1].range])))
        XCTAssertEqual(String(decoding: data[messages[1].range], as: UTF8.self),
                       "Subject: two\nContent-Length: 3\n\nno X-UIDL, and a Content-Length that is wrong\n")
        XCTAssertNil(MboxImport.xUIDL(Array("Subject: x\n\nX-UIDL: in the body\n".utf8)))
        XCTAssertNil(MboxImport.xUIDL(Array("X-UIDL: has spaces inside\n\n".utf8)))
        XCTAssertEqual(MboxImport.xUIDL(Array("x-uidl:   tight\r\n\r\n".utf8)), "tight")
        XCTAssertThrowsError(try MboxImport.split(Array("Subject: not an mbox\n".utf8)))
        XCTAssertEqual(try MboxImport.split([UInt8]()), [])
        // CRLF mbox.
        let crlf = Array("From a\r\nSubject: x\r\n\r\nbody\r\n\r\nFrom b\r\nSubject: y\r\n\r\n".utf8)
        let two = try MboxImport.split(crlf)
        XCTAssertEqual(two.map { String(decoding: crlf[$0.range], as: UTF8.self) }, ["Subject: x\r\n\r\nbody\r\n", "Subject: y\r\n"])
    }

    func testMboxPlanIsResumableWithAndWithoutXUIDL() throws {
        let dir = try temporaryDirectory()
        let twin = "Subject: same\n\nidentical\n"
        try write(dir + "/mbox", "From a\nX-UIDL: q1\n\n1\n\nFrom b\n\(twin)\nFrom c\n\(twin)")
        let plan = try MboxImport.plan(file: dir + "/mbox")
        XCTAssertEqual(plan.items.count, 3)
        XCTAssertEqual(plan.items[0].uidl, "q1")
        XCTAssertNotEqual(plan.items[1].uidl, plan.items[2].uidl, "identical messages are two messages")
        let f = try StoreFixture()
        let a = try f.mailbox("alice")
        XCTAssertEqual(try f.store.importMessages(plan.items, to: a).messages, 3)
        // One more message appended: only it comes.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/mbox"))
        handle.seekToEndOfFile()
        handle.write(Data("\nFrom d\nSubject: new\n\nnew\n".utf8))
        handle.closeFile()
        let again = try f.store.importMessages(try MboxImport.plan(file: dir + "/mbox").items, to: a)
        XCTAssertEqual(again.messages, 1)
        XCTAssertEqual(again.skipped, 3)
        let listed = try f.store.messages(of: a)
        XCTAssertEqual(listed.first?.uidl, "q1")
        let stored = try String(contentsOfFile: "\(f.path)/example.test/P3_alice.mbx/\(listed[0].fileName)", encoding: .utf8)
        XCTAssertEqual(stored, "X-UIDL: q1\r\n\r\n1\r\n", "the X-UIDL header stays, as qpopper served it")
    }

    // MARK: Hostile input

    /// Random and mutated input never crashes a parser (each either returns a value or throws): a cheap stand-in
    /// for fuzz targets, with a fixed seed so a failure repeats.
    func testParsersSurviveRandomInput() throws {
        var rng = SplitMix64(seed: 1939)
        let seeds = ["3 V1733400000 N4 G0a\n1 :a.b\n2 W1 PUID1 O2 :c.d\n", "1 5 6\n1 x\n", "/3 5 7\nname 10 1:7:0\nx y 2:0\n",
                     "From a\nX-UIDL: q\n\n>From b\n\nFrom c\r\n\r\n", "%08Xu%-4.0Lf%{uid}%%%"]
        let alphabet = Array("0123456789 :%{}.-XLU\n\r>FromX-UIDL:PVNGWOuvfg/".utf8) + [0x00, 0xFF, 0x80]
        for round in 0..<3000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<(1 + rng.next() % 6) {
                let op = rng.next() % 3
                let at = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
                let b = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                switch op {
                case 0: bytes.insert(b, at: min(at, bytes.count))
                case 1: if !bytes.isEmpty { bytes.remove(at: at) }
                default: if !bytes.isEmpty { bytes[at] = b }
                }
            }
            _ = try? DovecotUIDList.parse(bytes)
            _ = try? CourierSizeList.parse(bytes)
            if let messages = try? MboxImport.split(bytes) {
                for m in messages {
                    XCTAssertTrue(m.range.lowerBound >= 0 && m.range.upperBound <= bytes.count)
                    _ = MboxImport.unquote(bytes[m.range], .mboxrd)
                    if let u = MboxImport.xUIDL(bytes[m.range]) { XCTAssertTrue(MessageNamer.isValidUIDL(u)) }
                }
            }
            if let f = try? DovecotUIDLFormat(String(decoding: bytes, as: UTF8.self)) {
                _ = f.expand(uid: UInt32(truncatingIfNeeded: rng.next()), uidValidity: 7, fileName: "a:b", guid: nil)
            }
            let name = "P3_20261205120000000123450001.u" + String(decoding: bytes.prefix(20), as: UTF8.self) + ".eml"
            if let kept = MessageNamer.keptUIDL(ofMessageName: name) { XCTAssertTrue(MessageNamer.isValidUIDL(kept)) }
        }
    }

    // MARK: Windows 2003

    func testWin2003PlanKeepsTheFileNamesAsUIDLs() throws {
        let root = try temporaryDirectory()
        try write(root + "/example.test/P3_alice.mbx/lock", "")
        try write(root + "/example.test/P3_alice.mbx/P3_20031105123456789000010002.eml", "Subject: second\r\n\r\n")
        try write(root + "/example.test/P3_alice.mbx/P3_20031105123456789000010001.eml", "Subject: first\r\n\r\n")
        try write(root + "/example.test/P3_Bob.mbx/P3_20031105000000000000010001.eml", "Subject: bob\r\n\r\n")
        try write(root + "/example.test/P3_bad@name.mbx/P3_1.eml", "x")
        try write(root + "/Not_A_Domain!/P3_x.mbx/P3_1.eml", "x")
        let plan = try Win2003Import.plan(mailRoot: root)
        XCTAssertEqual(plan.mailboxes.map(\.address.description), ["alice@example.test", "bob@example.test"])
        XCTAssertEqual(plan.mailboxes[0].items.map(\.uidl), ["20031105123456789000010001", "20031105123456789000010002"])
        XCTAssertEqual(plan.notes.count, 2)
        XCTAssertNil(Win2003Import.uidl(ofFile: "P3_.eml"))
    }
}
