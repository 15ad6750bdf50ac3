import XCTest

@testable import SharedStore

final class ConstantTimeTests: XCTestCase {
    func testEqualOnlyForTheSameBytes() {
        XCTAssertTrue(ConstantTime.equal([UInt8](), [UInt8]()))
        XCTAssertTrue(ConstantTime.equal([1, 2, 3] as [UInt8], ArraySlice([0, 1, 2, 3] as [UInt8]).dropFirst()))
        XCTAssertFalse(ConstantTime.equal([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        XCTAssertFalse(ConstantTime.equal([1, 2, 3] as [UInt8], [1, 2] as [UInt8]), "a prefix is not equal")
        XCTAssertTrue(ConstantTime.equal("tokén", "tokén"))
        XCTAssertFalse(ConstantTime.equal("token", "Token"))
        XCTAssertFalse(ConstantTime.equal("token", "token "))
    }
}
