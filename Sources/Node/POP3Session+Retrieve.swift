import Logging
import Metrics
import NIOCore
import POP3Core
import SharedStore

/// RETR and TOP: streamed in chunks read on the thread pool, dot-stuffed on the fly; the next chunk is read only once
/// the last one was handed to the kernel, so a slow reader holds one chunk of the node's memory.
extension POP3Session {
    func retrieve(_ message: POP3Message, topBodyLines: Int?) {
        guard let connection, let loop = connection.eventLoop, let session = mailbox,
            let info = session.messages.first(where: { $0.uidl == message.uidl })
        else {
            connection?.write(tagged(.err(.sysTemp, "message unavailable")).encoded())
            return
        }
        connection.hold()
        connection.flush()
        let chunkSize = shared.configuration.retrieveChunkSize
        let bound = NIOLoopBound(self, eventLoop: loop)
        // One hop to the thread pool opens the message and reads its first chunk: a message shorter than a chunk
        // (most are) costs one hop in all.
        shared.threadPool.runIfActive(eventLoop: loop) { () throws -> OpenedMessage in
            let handle = try session.openMessage(info)
            do {
                return OpenedMessage(handle: handle, first: try handle.read(at: 0, count: chunkSize))
            } catch {
                handle.close()
                throw error
            }
        }.whenComplete { result in
            let this = bound.value
            switch result {
            case .failure(let error):
                // Nothing sent yet: the client gets a proper error and the session goes on.
                this.logger.warning("cannot open message: \(error)")
                let text = (error as? StoreError).map(Authenticator.temporaryText) ?? "message unavailable"
                this.connection?.write(this.tagged(.err(.sysTemp, text)).encoded())
                this.workFinished()
            case .success(let opened):
                if topBodyLines == nil {
                    this.journal.retrieved += 1
                    this.journal.retrievedBytes += Int64(message.size)
                }
                let header: POP3Response = topBodyLines == nil ? .ok("\(message.size) octets") : .ok("top of message follows")
                this.connection?.write(header.encoded())
                this.emitChunk(opened.first, handle: opened.handle, offset: 0, streamer: MessageStreamer(topBodyLines: topBodyLines))
            }
        }
    }

    private func streamChunk(handle: any VolumeReadHandle, offset: Int64, streamer: MessageStreamer) {
        guard let connection, !connection.isClosing, let loop = connection.eventLoop else {
            handle.close()
            return
        }
        let chunkSize = shared.configuration.retrieveChunkSize
        let bound = NIOLoopBound(self, eventLoop: loop)
        shared.threadPool.runIfActive(eventLoop: loop) {
            try handle.read(at: offset, count: chunkSize)
        }.whenComplete { result in
            let this = bound.value
            switch result {
            case .failure(let error):
                // Half a message is on the wire: the only honest thing left is to close the connection.
                this.logger.error("read failed in the middle of a message: \(error)")
                handle.close()
                this.connection?.close()
            case .success(let bytes):
                this.emitChunk(bytes, handle: handle, offset: offset, streamer: streamer)
            }
        }
    }

    /// Dot-stuffs one chunk read at `offset` and writes it; reads the next once it is written (back-pressure). A chunk
    /// shorter than asked for is the end of the message (a volume reads the count, or less only at the end).
    private func emitChunk(_ bytes: [UInt8], handle: any VolumeReadHandle, offset: Int64, streamer: MessageStreamer) {
        var streamer = streamer
        var output = [UInt8]()
        output.reserveCapacity(bytes.count + bytes.count / 32 + 8)
        streamer.process(bytes, into: &output)
        let done = bytes.count < shared.configuration.retrieveChunkSize || streamer.isComplete
        if done {
            handle.close()
            streamer.finish(into: &output)
        }
        guard let connection, let loop = connection.eventLoop, let written = connection.writeAndFlush(output) else {
            if !done { handle.close() }
            return
        }
        Counter(label: "poplar_pop3_retrieved_bytes_total").increment(by: output.count)
        let bound = NIOLoopBound(self, eventLoop: loop)
        let next = streamer
        written.whenComplete { result in
            let this = bound.value
            guard case .success = result else {
                if !done { handle.close() }
                return
            }
            this.connection?.touch()
            if done {
                this.workFinished()
            } else {
                this.streamChunk(handle: handle, offset: offset + Int64(bytes.count), streamer: next)
            }
        }
    }
}

/// An open message and its first chunk, handed from the thread pool to the event loop.
private struct OpenedMessage: Sendable {
    let handle: any VolumeReadHandle
    let first: [UInt8]
}
