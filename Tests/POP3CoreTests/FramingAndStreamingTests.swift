import XCTest

@testable import POP3Core

final class MessageStreamerTests: XCTestCase {
    func stream(_ message: String, top: Int? = nil, chunk: Int = 1 << 20) -> String {
        var streamer = MessageStreamer(topBodyLines: top)
        var out: [UInt8] = []
        let bytes = Array(message.utf8)
        var i = 0
        while i < bytes.count && !streamer.isComplete {
            streamer.process(bytes[i..<Swift.min(bytes.count, i + chunk)], into: &out)
            i += chunk
        }
        streamer.finish(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func testDotStuffing() {
        XCTAssertEqual(stream(".first\r\nsecond\r\n.\r\n..x\r\n"), "..first\r\nsecond\r\n..\r\n...x\r\n.\r\n")
        XCTAssertEqual(stream("a.b\r\n"), "a.b\r\n.\r\n")
        XCTAssertEqual(stream(""), ".\r\n")
    }

    func testMissingFinalLineEnd() {
        XCTAssertEqual(stream("no newline"), "no newline\r\n.\r\n")
        XCTAssertEqual(stream("ends with CR\r"), "ends with CR\r\n.\r\n")
    }

    func testChunkBoundariesAnywhere() {
        let message = "Subject: x\r\n.dot\r\n\r\n.\r\nbody\r\n..\r\nend"
        let whole = stream(message)
        for chunk in 1...message.utf8.count {
            XCTAssertEqual(stream(message, chunk: chunk), whole, "chunk \(chunk)")
            XCTAssertEqual(stream(message, top: 1, chunk: chunk), stream(message, top: 1), "TOP chunk \(chunk)")
        }
    }

    func testTOP() {
        let message = "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n"
        XCTAssertEqual(stream(message, top: 0), "A: 1\r\nB: 2\r\n\r\n.\r\n")
        XCTAssertEqual(stream(message, top: 2), "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n")
        XCTAssertEqual(stream(message, top: 100), "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n")
        XCTAssertEqual(stream("A: 1\r\nB: 2\r\n", top: 5), "A: 1\r\nB: 2\r\n.\r\n", "no body")
        XCTAssertEqual(stream("A: 1\n\nx\ny\n", top: 1), "A: 1\n\nx\n.\r\n", "bare LF lines are counted too")
    }
}
