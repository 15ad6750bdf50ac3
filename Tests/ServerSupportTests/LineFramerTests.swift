import XCTest

@testable import ServerSupport

final class LineFramerTests: XCTestCase {
    func lines(_ input: [UInt8], chunks: [Int], max: Int = 255) -> [LineFramer.Event] {
        var framer = LineFramer(maxLength: max)
        var out: [LineFramer.Event] = []
        var offset = 0
        for size in chunks + [input.count] {
            let end = Swift.min(input.count, offset + size)
            framer.append(input[offset..<end])
            offset = end
            while let e = framer.nextLine() { out.append(e) }
            if offset == input.count { break }
        }
        return out
    }

    func testSplitAtEveryByte() {
        let input = Array("USER a\r\nPASS b c\nQUIT\r\n\r\n".utf8)
        let expected: [LineFramer.Event] = [.line(Array("USER a".utf8)), .line(Array("PASS b c".utf8)), .line(Array("QUIT".utf8)), .line([])]
        XCTAssertEqual(lines(input, chunks: [input.count]), expected)
        for split in 1..<input.count {
            XCTAssertEqual(lines(input, chunks: [split]), expected, "split at \(split)")
        }
        XCTAssertEqual(lines(input, chunks: Array(repeating: 1, count: input.count)), expected, "one byte at a time")
    }

    func testTooLongThenRecovery() {
        let long = Array(repeating: UInt8(ascii: "A"), count: 10_000)
        let input = long + Array("\r\nNOOP\r\n".utf8)
        for chunk in [1, 7, 256, 4096, input.count] {
            XCTAssertEqual(lines(input, chunks: Array(repeating: chunk, count: input.count / chunk + 1)), [.tooLong, .line(Array("NOOP".utf8))], "chunk \(chunk)")
        }
        // Exactly at the limit is fine; one more is not.
        XCTAssertEqual(lines(Array(repeating: 65, count: 255) + [13, 10], chunks: [300]), [.line(Array(repeating: 65, count: 255))])
        XCTAssertEqual(lines(Array(repeating: 65, count: 256) + [13, 10], chunks: [300]), [.tooLong])
    }

    func testLargerLimitForSASL() {
        var framer = LineFramer(maxLength: 255)
        framer.maxLength = 4096  // the SASL line bound
        framer.append(Array(repeating: 65, count: 4000) + [13, 10])
        XCTAssertEqual(framer.nextLine(), .line(Array(repeating: 65, count: 4000)))
    }

    func testDiscardBuffered() {
        var framer = LineFramer(maxLength: 255)
        framer.append(Array("STLS\r\nCAPA\r\n".utf8))
        XCTAssertEqual(framer.nextLine(), .line(Array("STLS".utf8)))
        XCTAssertEqual(framer.bufferedByteCount, 6)
        XCTAssertEqual(framer.discardBuffered(), 6)
        XCTAssertNil(framer.nextLine())
    }
}
