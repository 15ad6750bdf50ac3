import Foundation
import NIOCore
import NIOEmbedded
import XCTest

/// Line-protocol helpers for handler tests on `NIOAsyncTestingChannel`.
extension NIOAsyncTestingChannel {
    /// Everything written until `marker` appears (the thread pool answers from other threads), at most 5 s.
    func output(until marker: String, file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        var text = ""
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            while var buffer = try await readOutbound(as: ByteBuffer.self) {
                text += buffer.readString(length: buffer.readableBytes) ?? ""
            }
            if text.contains(marker) { return text }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        XCTFail("no \"\(marker)\" in: \(text.suffix(300))", file: file, line: line)
        return text
    }

    /// Bytes from the peer, as one read.
    func send(_ text: String) async throws {
        try await writeInbound(ByteBuffer(string: text))
        pipeline.fireChannelReadComplete()
    }
}
