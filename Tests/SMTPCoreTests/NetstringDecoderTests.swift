import XCTest

@testable import SMTPCore

/// djb's netstrings (https://cr.yp.to/proto/netstrings.txt) as Postfix socketmap_table(5) frames requests.
final class NetstringDecoderTests: XCTestCase {
    /// Every result until `.needMore` or `.invalid`, feeding `chunks` one by one.
    static func decodeAll(_ chunks: [ArraySlice<UInt8>], maxPayload: Int = 10) -> [NetstringDecoder.Result] {
        var d = NetstringDecoder(maxPayload: maxPayload)
        var results: [NetstringDecoder.Result] = []
        for chunk in chunks {
            d.append(chunk)
            while true {
                let r = d.next()
                if r == .needMore { break }
                results.append(r)
                if case .invalid = r { return results }
            }
        }
        return results
    }

    func testFixtures() {
        let v = { (s: String) in NetstringDecoder.Result.value(Array(s.utf8)) }
        let fixtures: [(input: String, results: [NetstringDecoder.Result], clause: String)] = [
            ("5:hello,", [v("hello")], "netstrings §2: <len>:<string>,"),
            ("0:,", [v("")], "§2: the empty string"),
            ("3:a,b,2:xy,", [v("a,b"), v("xy")], "any bytes in the payload; several in a row"),
            ("5:hel", [], "incomplete: more needed"),
            ("12", [], "digits without their colon: more needed"),
            ("00:,", [.invalid(.leadingZero)], "§3: a leading zero only as \"0\""),
            ("01:x,", [.invalid(.leadingZero)], "§3: no leading zeros"),
            ("x:,", [.invalid(.notADigit)], "the length is digits"),
            (":,", [.invalid(.notADigit)], "the length is not empty"),
            ("-1:x,", [.invalid(.notADigit)], "no sign"),
            (" 1:x,", [.invalid(.notADigit)], "no space before the length"),
            ("1 :x,", [.invalid(.notADigit)], "no space before the colon"),
            ("1:xy", [.invalid(.missingComma)], "the comma closes the payload"),
            ("1:x;", [.invalid(.missingComma)], "only a comma closes it"),
            ("11:abcdefghijk,", [.invalid(.tooLong)], "maxPayload (10 here)"),
            ("123", [.invalid(.tooManyDigits)], "more digits than maxLengthDigits (2 here), before any colon"),
            ("99999999999999999999999999:", [.invalid(.tooManyDigits)], "huge length digits"),
            ("1:a,1:b;1:c,", [v("a"), .invalid(.missingComma)], "invalid after a good one"),
        ]
        for f in fixtures {
            XCTAssertEqual(Self.decodeAll([Array(f.input.utf8)[...]]), f.results, f.clause)
        }
    }

    func testSplitAtEveryByte() {
        let input = Array("5:hello,0:,3:a:b,10:0123456789,2:x".utf8)
        let whole = Self.decodeAll([input[...]])
        var agree = true
        for k in 0...input.count where Self.decodeAll([input[..<k], input[k...]]) != whole { agree = false }
        XCTAssertTrue(agree, "split at every offset: same results")
        XCTAssertEqual(Self.decodeAll(input.indices.map { input[$0...$0] }), whole, "byte by byte: same results")
    }

    func testInvalidStaysInvalid() {
        var d = NetstringDecoder(maxPayload: 10)
        d.append(Array("x".utf8))
        XCTAssertEqual(d.next(), .invalid(.notADigit), "the first error")
        d.append(Array("1:a,".utf8))
        XCTAssertEqual(d.next(), .invalid(.notADigit), "stays invalid, good input after it is ignored")
    }

    func testBounds() {
        let d = NetstringDecoder()
        XCTAssertEqual(d.maxPayload, 10_000, "socketmap requests here are at most 10,000 octets")
        XCTAssertEqual(d.maxLengthDigits, 5, "digits of maxPayload")
        XCTAssertEqual(Self.decodeAll([Array("10000:".utf8)[...] + ArraySlice(repeating: 0x61, count: 10_000) + [0x2C]], maxPayload: 10_000).count, 1,
                       "exactly maxPayload is accepted")
        XCTAssertEqual(Self.decodeAll([Array("10001:".utf8)[...]], maxPayload: 10_000), [.invalid(.tooLong)], "one more is refused at the colon")
        var huge = NetstringDecoder(maxPayload: Int.max)
        huge.append(Array("10000000000000000000:".utf8))
        XCTAssertEqual(huge.next(), .invalid(.tooManyDigits), "a bound of Int.max still bounds the digits: 20 refused")
        var top = NetstringDecoder(maxPayload: Int.max)
        top.append(Array("9999999999999999999:".utf8))
        XCTAssertEqual(top.next(), .invalid(.tooLong), "19 digits past Int.max: refused, no overflow trap")
    }

    func testEncode() {
        XCTAssertEqual(NetstringDecoder.encode(Array("OK a@x.test".utf8)), Array("11:OK a@x.test,".utf8), "§2")
    }

    // Linear: a 1 MB stream of small requests, fed in 1 KB reads (no timing assert: it just has to finish).
    func testMegabyteOfSmallRequests() {
        let request = NetstringDecoder.encode(Array("mailboxes bob@x.test".utf8))
        let count = (1 << 20) / request.count
        let stream = Array([[UInt8]](repeating: request, count: count).joined())
        var d = NetstringDecoder()
        var decoded = 0
        var offset = 0
        while offset < stream.count {
            d.append(stream[offset..<min(stream.count, offset + 1024)])
            offset += 1024
            while case .value = d.next() { decoded += 1 }
        }
        XCTAssertEqual(decoded, count, "every request decoded")
        XCTAssertEqual(d.bufferedByteCount, 0, "nothing left over")
    }
}
