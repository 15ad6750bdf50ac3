import NIOCore
import NIOEmbedded
import XCTest

@testable import ServerSupport

/// The shared connection skeleton on an `EmbeddedChannel`: its event loop is the test clock, so the idle time and the
/// pre-login deadline are tested by advancing time, not by sleeping.
final class LineConnectionTests: XCTestCase {
    /// A toy protocol: "+HELLO" on start; "HOLD" holds; "LOGIN" logs in; "BIG" answers 10 KB; every other line is
    /// echoed; timeouts answer "-BYE <reason>" and close.
    final class EchoSession: LineSession {
        var lines: [String] = []
        var timeouts: [ConnectionTimeout] = []
        var ended = 0
        var tooLong = 0

        func connectionStarted(_ connection: LineConnection) {
            connection.write(Array("+HELLO\r\n".utf8))
        }

        func received(_ event: LineFramer.Event, on connection: LineConnection) {
            guard case .line(let bytes) = event else {
                tooLong += 1
                connection.write(Array("-TOO LONG\r\n".utf8))
                return
            }
            let line = String(decoding: bytes, as: UTF8.self)
            lines.append(line)
            switch line {
            case "HOLD": connection.hold()
            case "LOGIN": connection.loggedIn()
            case "BIG": connection.write(Array(repeating: UInt8(ascii: "x"), count: 10_000) + [13, 10])
            default: connection.write(Array("\(line)\r\n".utf8))
            }
        }

        func timedOut(_ timeout: ConnectionTimeout, on connection: LineConnection) {
            timeouts.append(timeout)
            connection.writeAndClose(Array("-BYE \(timeout)\r\n".utf8))
        }

        func connectionEnded() {
            ended += 1
        }
    }

    /// Counts the reads the skeleton asks for (the channel has autoRead off in the servers).
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    struct Harness {
        let channel: EmbeddedChannel
        let session: EchoSession
        let connection: LineConnection
        let reads: ReadCounter

        init(options: LineConnection.Options = .init(framing: .lines(maxLength: 100), idleTimeout: .seconds(60)),
             registry: ConnectionRegistry? = nil) throws {
            session = EchoSession()
            connection = LineConnection(session: session, id: "t1", options: options, registry: registry)
            reads = ReadCounter()
            channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(reads)
            try channel.pipeline.syncOperations.addHandler(connection)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func send(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
            channel.pipeline.fireChannelReadComplete()
        }

        /// Everything written so far, as text.
        func output() throws -> String {
            var text = ""
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                text += buffer.readString(length: buffer.readableBytes) ?? ""
            }
            return text
        }
    }

    func testGreetsAndAnswersEachPipelinedLineInOrder() throws {
        let h = try Harness()
        XCTAssertEqual(try h.output(), "+HELLO\r\n")
        try h.send("ONE\r\nTWO\nTHR")
        XCTAssertEqual(try h.output(), "ONE\r\nTWO\r\n")
        try h.send("EE\r\n")
        XCTAssertEqual(try h.output(), "THREE\r\n")
        XCTAssertGreaterThan(h.reads.reads, 0)
    }

    func testHoldStopsCommandsAndReadingUntilReleased() throws {
        let h = try Harness()
        _ = try h.output()
        try h.send("HOLD\r\nA\r\nB\r\n")
        XCTAssertEqual(h.session.lines, ["HOLD"])
        let readsWhileHeld = h.reads.reads
        try h.send("C\r\n")
        XCTAssertEqual(h.reads.reads, readsWhileHeld, "no read is asked for while the session holds")
        h.connection.release()
        XCTAssertEqual(h.session.lines, ["HOLD", "A", "B", "C"])
        XCTAssertEqual(try h.output(), "A\r\nB\r\nC\r\n")
        XCTAssertGreaterThan(h.reads.reads, readsWhileHeld)
    }

    /// A client that sends commands and never reads: once its output is over the water mark (the channel is not
    /// writable), no further command is answered and nothing more is read; it resumes when the output drains.
    func testOutputBackPressureStopsCommandsAndReads() throws {
        let h = try Harness()
        _ = try h.output()
        h.channel.isWritable = false
        h.channel.pipeline.fireChannelWritabilityChanged()
        let readsBefore = h.reads.reads
        try h.send(String(repeating: "BIG\r\n", count: 50))
        XCTAssertEqual(h.session.lines.count, 0, "no command is worked through while the peer does not take its output")
        XCTAssertEqual(h.reads.reads, readsBefore, "no read while not writable")
        h.channel.isWritable = true
        h.channel.pipeline.fireChannelWritabilityChanged()
        XCTAssertEqual(h.session.lines.count, 50)
        XCTAssertGreaterThan(h.reads.reads, readsBefore)
    }

    func testPipelinedInputOverTheBoundStopsReading() throws {
        let options = LineConnection.Options(framing: .lines(maxLength: 100), idleTimeout: .seconds(60), maxPipelinedInput: 1000)
        let h = try Harness(options: options)
        _ = try h.output()
        try h.send("HOLD\r\n")
        try h.send(String(repeating: "X\r\n", count: 400))  // 1,200 bytes waiting
        h.connection.release()
        XCTAssertEqual(h.session.lines.count, 401)
        // Held with more than the bound buffered: no read.
        try h.send("HOLD\r\n")
        let before = h.reads.reads
        try h.send(String(repeating: "X\r\n", count: 400))
        XCTAssertEqual(h.reads.reads, before)
        XCTAssertGreaterThan(h.connection.bufferedInputCount, 1000)
    }

    func testLineOverTheBoundIsReportedOnceAndTheSessionGoesOn() throws {
        let h = try Harness()
        _ = try h.output()
        try h.send(String(repeating: "a", count: 500) + "\r\nNEXT\r\n")
        XCTAssertEqual(h.session.tooLong, 1)
        XCTAssertEqual(try h.output(), "-TOO LONG\r\nNEXT\r\n")
    }

    func testIdleTimeoutFiresOnTheTestClockAndIsRestartedByCommands() throws {
        let h = try Harness()
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        try h.send("NOOP\r\n")
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        XCTAssertEqual(h.session.timeouts, [])
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        XCTAssertEqual(h.session.timeouts, [.idle])
        XCTAssertTrue(try h.output().hasSuffix("-BYE idle\r\n"))
        XCTAssertFalse(h.channel.isActive)
        XCTAssertEqual(h.session.ended, 1)
    }

    /// The pre-login deadline is absolute: a NOOP every half idle time keeps the idle clock from firing but not it.
    func testLoginDeadlineIsNotExtendedByCommands() throws {
        let options = LineConnection.Options(framing: .lines(maxLength: 100), idleTimeout: .seconds(60), loginDeadline: .seconds(180))
        let h = try Harness(options: options)
        for _ in 0..<5 {
            h.channel.embeddedEventLoop.advanceTime(by: .seconds(30))
            try h.send("NOOP\r\n")
        }
        XCTAssertEqual(h.session.timeouts, [])
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(31))
        XCTAssertEqual(h.session.timeouts, [.loginDeadline])
        XCTAssertFalse(h.channel.isActive)
    }

    func testLoginCancelsTheDeadline() throws {
        let options = LineConnection.Options(framing: .lines(maxLength: 100), idleTimeout: .seconds(600), loginDeadline: .seconds(180))
        let h = try Harness(options: options)
        try h.send("LOGIN\r\n")
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(300))
        XCTAssertEqual(h.session.timeouts, [])
        XCTAssertTrue(h.channel.isActive)
    }

    func testSessionSetsItsIdleTimePerState() throws {
        let h = try Harness()
        h.connection.idleTimeout = .seconds(5)
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        XCTAssertEqual(h.session.timeouts, [.idle])
    }

    func testProxyHeaderFromAnUntrustedPeerIsRefused() throws {
        let refusal = Array("-ERR PROXY header not accepted from this address\r\n".utf8)
        let options = LineConnection.Options(framing: .lines(maxLength: 100), idleTimeout: .seconds(60), proxyHeaderRefusal: refusal)
        for header in ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nQUIT\r\n",
                       String(decoding: ProxyHeaderDecoder.v2Signature, as: UTF8.self)] {
            let h = try Harness(options: options)
            _ = try h.output()
            try h.send(header)
            XCTAssertEqual(try h.output(), String(decoding: refusal, as: UTF8.self))
            XCTAssertEqual(h.session.lines, [], "nothing of the header reaches the protocol")
            XCTAssertFalse(h.channel.isActive)
        }
        let h = try Harness(options: options)
        _ = try h.output()
        try h.send("PRO")
        try h.send("TOCOL\r\n")
        XCTAssertEqual(h.session.lines, ["PROTOCOL"], "a command that starts like PROXY is the protocol's")
    }

    func testRawFramingHandsBytesAndSwitchesBack() throws {
        final class RawSession: LineSession {
            var raw: [UInt8] = []
            var lines: [String] = []
            func connectionStarted(_ connection: LineConnection) {}
            func received(_ event: LineFramer.Event, on connection: LineConnection) {
                guard case .line(let bytes) = event else { return }
                lines.append(String(decoding: bytes, as: UTF8.self))
                if lines.last == "DATA" { raw += connection.switchToRaw() }
            }
            func receivedRaw(_ bytes: [UInt8], on connection: LineConnection) {
                raw += bytes
                if let end = raw.firstIndex(of: UInt8(ascii: "!")) {
                    connection.switchToLines(maxLength: 100, leftover: raw[(end + 1)...])
                    raw = Array(raw[..<end])
                }
            }
            func timedOut(_ timeout: ConnectionTimeout, on connection: LineConnection) {}
            func connectionEnded() {}
        }
        let session = RawSession()
        let channel = EmbeddedChannel(handler: LineConnection(session: session, id: "r",
                                                              options: .init(framing: .lines(maxLength: 100), idleTimeout: .seconds(60))))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "DATA\r\nab"))
        try channel.writeInbound(ByteBuffer(string: "c\r\n"))
        try channel.writeInbound(ByteBuffer(string: "!AFTER\r\n"))
        XCTAssertEqual(String(decoding: session.raw, as: UTF8.self), "abc\r\n")
        XCTAssertEqual(session.lines, ["DATA"])
        try channel.writeInbound(ByteBuffer(string: "\r\n"))
        XCTAssertEqual(session.lines, ["DATA", "AFTER", ""])
    }

    func testRegistryHoldsOpenConnectionsOnly() throws {
        let registry = ConnectionRegistry()
        let h = try Harness(registry: registry)
        XCTAssertEqual(registry.count, 1)
        XCTAssertEqual(registry.forEach(id: "other") { _ in }, 0)
        XCTAssertEqual(registry.forEach(id: "t1") { $0.close() }, 1)
        h.channel.embeddedEventLoop.run()
        XCTAssertFalse(h.channel.isActive)
        XCTAssertEqual(registry.count, 0)
        XCTAssertEqual(h.session.ended, 1)
    }

    func testWriteAndCloseClosesEvenIfThePeerNeverReads() throws {
        let h = try Harness()
        h.channel.isWritable = false
        h.connection.writeAndClose(Array("-ERR bye\r\n".utf8))
        XCTAssertTrue(h.connection.isClosing)
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        XCTAssertFalse(h.channel.isActive)
    }
}
