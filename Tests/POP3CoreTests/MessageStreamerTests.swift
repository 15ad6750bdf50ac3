import TestSupport
import XCTest

@testable import POP3Core

/// RFC 1939 §3 (dot-stuffing, the terminating "."), §7 (TOP): the streamer against whole-input results and at
/// every chunk boundary.
final class MessageStreamerTests: XCTestCase {
    /// Streams `message` in chunks of `chunk` bytes, stopping early when the streamer says it is complete.
    func stream(_ message: String, top: Int? = nil, chunk: Int = 1 << 20) -> String {
        stream(bytes: Array(message.utf8), top: top, splits: Array(stride(from: chunk, to: message.utf8.count, by: chunk)))
    }

    /// Streams `bytes` split at the given offsets (ascending).
    func stream(bytes: [UInt8], top: Int?, splits: [Int]) -> String {
        var streamer = MessageStreamer(topBodyLines: top)
        var out: [UInt8] = []
        var start = 0
        for end in splits + [bytes.count] where !streamer.isComplete {
            streamer.process(bytes[start..<end], into: &out)
            start = end
        }
        streamer.finish(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func testDotStuffing() {
        XCTAssertEqual(stream(".first\r\nsecond\r\n.\r\n..x\r\n"), "..first\r\nsecond\r\n..\r\n...x\r\n.\r\n")
        XCTAssertEqual(stream("a.b\r\n"), "a.b\r\n.\r\n")
        XCTAssertEqual(stream(" .x\r\n"), " .x\r\n.\r\n", "only a dot at the very start of a line")
        XCTAssertEqual(stream("."), "..\r\n.\r\n", "a lone dot without line end")
        XCTAssertEqual(stream(""), ".\r\n")
    }

    func testMissingFinalLineEnd() {
        XCTAssertEqual(stream("no newline"), "no newline\r\n.\r\n")
        XCTAssertEqual(stream("ends with CR\r"), "ends with CR\r\n.\r\n")
        XCTAssertEqual(stream("a\r\nb"), "a\r\nb\r\n.\r\n")
    }

    /// A bare LF becomes CRLF, so a client that splits on CRLF still finds the terminating ".".
    func testBareLF() {
        XCTAssertEqual(stream("a\nb\n"), "a\r\nb\r\n.\r\n")
        XCTAssertEqual(stream("a\n.\n"), "a\r\n..\r\n.\r\n")
        XCTAssertEqual(stream("mixed\r\nbare\nend"), "mixed\r\nbare\r\nend\r\n.\r\n")
        XCTAssertEqual(stream("lone\rCR\r\n"), "lone\rCR\r\n.\r\n", "a CR inside a line is kept")
    }

    func testTOP() {
        let message = "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n"
        XCTAssertEqual(stream(message, top: 0), "A: 1\r\nB: 2\r\n\r\n.\r\n")
        XCTAssertEqual(stream(message, top: 1), "A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n")
        XCTAssertEqual(stream(message, top: 2), "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n")
        XCTAssertEqual(stream(message, top: 100), "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n")
        XCTAssertEqual(stream("A: 1\r\nB: 2\r\n", top: 5), "A: 1\r\nB: 2\r\n.\r\n", "no body, no empty line")
        XCTAssertEqual(stream("A: 1\r\nB: 2\r\n", top: 0), "A: 1\r\nB: 2\r\n.\r\n", "no body, TOP 0")
        XCTAssertEqual(stream("A: 1\r\n\r\n", top: 0), "A: 1\r\n\r\n.\r\n", "empty body")
        XCTAssertEqual(stream("A: 1\r\n\r\nonly", top: 3), "A: 1\r\n\r\nonly\r\n.\r\n", "body without final CRLF")
        XCTAssertEqual(stream("A: 1\n\nx\ny\n", top: 1), "A: 1\r\n\r\nx\r\n.\r\n", "bare LF lines are counted too")
        XCTAssertEqual(stream("A: 1\r\n\r\n\r\n\r\nx\r\n", top: 2), "A: 1\r\n\r\n\r\n\r\n.\r\n", "empty body lines count")
        XCTAssertEqual(stream(".A: 1\r\n\r\n.b\r\n", top: 1), "..A: 1\r\n\r\n..b\r\n.\r\n")
        XCTAssertEqual(stream("A: x\r\r\nbody?\r\n", top: 0), "A: x\r\r\nbody?\r\n.\r\n", "CR CR LF is not an empty line")
    }

    /// The caller may stop reading as soon as TOP has what it needs; later input is ignored.
    func testTOPCompletesEarly() {
        var streamer = MessageStreamer(topBodyLines: 0)
        var out: [UInt8] = []
        streamer.process(Array("A: 1\r\n".utf8), into: &out)
        XCTAssertFalse(streamer.isComplete)
        streamer.process(Array("\r\n".utf8), into: &out)
        XCTAssertTrue(streamer.isComplete, "complete at the end of the header, before any body byte")
        streamer.process(Array("body\r\n".utf8), into: &out)
        streamer.finish(into: &out)
        streamer.finish(into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "A: 1\r\n\r\n.\r\n", "finish writes the terminator once")

        var retr = MessageStreamer(topBodyLines: nil)
        retr.process(Array("A: 1\r\n\r\nx\r\n".utf8), into: &out)
        XCTAssertFalse(retr.isComplete, "RETR completes only at finish")
    }

    /// Every split position, and every pair of split positions, gives the whole-input result.
    func testChunkBoundariesAnywhere() {
        let messages = [
            "Subject: x\r\n.dot\r\n\r\n.\r\nbody\r\n..\r\nend",
            ".\r\n\r\n.\r\n",
            "A: 1\n\n.x\nlast\r",
            "H: v\r\n\r\nl1\r\nl2\r\n.l3\r\n",
        ]
        for message in messages {
            let bytes = Array(message.utf8)
            for top in [nil, 0, 1, 2, 5] as [Int?] {
                let whole = stream(bytes: bytes, top: top, splits: [])
                for i in 0...bytes.count {
                    XCTAssertEqual(stream(bytes: bytes, top: top, splits: [i]), whole, "\(message.debugDescription) top \(String(describing: top)) split \(i)")
                    for j in i...bytes.count {
                        XCTAssertEqual(stream(bytes: bytes, top: top, splits: [i, j]), whole)
                    }
                }
                XCTAssertEqual(stream(bytes: bytes, top: top, splits: Array(0...bytes.count)), whole, "one byte at a time")
            }
        }
    }

    /// RETR's line-at-a-time path (memchr) gives byte for byte what the byte-at-a-time path gives with no limit
    /// (TOP of every line): random messages of ".", CR, LF and text, split at random places.
    func testWholeMessagePathMatchesTheBytewisePath() {
        var rng = SplitMix64(seed: 1939)
        let alphabet: [UInt8] = [0x2E, 0x0D, 0x0A, 0x61, 0x62, 0x2E, 0x0D, 0x0A]
        for round in 0..<3000 {
            let count = Int.random(in: 0...200, using: &rng)
            let bytes = (0..<count).map { _ in alphabet.randomElement(using: &rng)! }
            let splits = (0..<Int.random(in: 0...4, using: &rng)).map { _ in Int.random(in: 0...count, using: &rng) }.sorted()
            XCTAssertEqual(stream(bytes: bytes, top: nil, splits: splits), stream(bytes: bytes, top: Int.max, splits: splits),
                           "round \(round): \(String(decoding: bytes, as: UTF8.self).debugDescription) split at \(splits)")
        }
    }

    /// The output never contains a line "." before the end, and every line end is CRLF.
    func testOutputIsWellFormed() {
        let message = ".\n.\r\n..\r.\n\r\n.\rx\n."
        let out = Array(stream(message).utf8)
        XCTAssertEqual(Array(out.suffix(5)), Array("\r\n.\r\n".utf8))
        for (i, byte) in out.enumerated() where byte == 0x0A {
            XCTAssertEqual(out[i - 1], 0x0D, "LF at \(i) without CR")
        }
        let lines = String(decoding: out, as: UTF8.self).components(separatedBy: "\r\n")
        XCTAssertEqual(lines.filter { $0 == "." }.count, 1)
    }
}
