import Logging
import NIOCore
import SMTPCore
import ServerSupport

/// DATA (RFC 5321 §4.1.1.4): a spool file made on the thread pool before the 354, then raw bytes through a
/// `DataDecoder`, written to the spool in pieces on the thread pool, one write at a time, reading nothing meanwhile
/// (back-pressure). After the last write the transaction goes on to delivery, and the bytes pipelined behind the end
/// of DATA are framed as commands again.
extension InboundSession {
    /// Decoded DATA is written to the spool in pieces of this size.
    static let spoolFlushSize = 256 * 1024

    func beginData(_ reply: SMTPReply) {
        let directory = shared.configuration.spoolDirectory
        offload({ () -> Result<Spool, Error> in Result { try Spool(directory: directory) } }) { session, made in
            session.decoder = session.machine.makeDataDecoder()
            session.decoded = []
            switch made {
            case .success(let spool):
                session.spool = spool
                session.spoolFailed = nil
            case .failure(let error):
                // The message is read to its end and refused with 451 (the client must not be left mid-DATA).
                session.spool = nil
                session.spoolFailed = error
            }
            guard let connection = session.connection else { return }
            connection.write(reply.encoded())
            connection.flush()
            let pending = connection.switchToRaw()
            if !pending.isEmpty { session.consumeData(pending) }
        }
    }

    func consumeData(_ bytes: [UInt8]) {
        guard var decoder else { return }
        let used = decoder.decode(bytes, into: &decoded)
        if decoder.finished {
            self.decoder = nil
            dataEnd = decoder.outcome ?? .complete
            // Held until the spool is written and the message delivered; what follows the end is commands again.
            connection?.hold()
            connection?.switchToLines(maxLength: SMTPLimits.maxCommandLineLength, leftover: bytes[used...])
            flushSpoolIfDue()
            connection?.release()
        } else {
            self.decoder = decoder
            flushSpoolIfDue()
        }
    }

    /// Writes what was decoded to the spool on the thread pool, one write at a time. After the last write, the
    /// transaction goes on.
    private func flushSpoolIfDue() {
        guard connection != nil, !flushInFlight else { return }
        let final = dataEnd != nil
        guard final || decoded.count >= Self.spoolFlushSize else { return }
        let outcome = dataEnd ?? .complete
        // A message refused (too large, bare line endings) is read to its end but not kept.
        let refused = outcome != .complete
        let chunk = decoded
        decoded = []
        let spool = self.spool
        let failedBefore = spoolFailed
        flushInFlight = true
        offload({ () -> String? in
            if let failedBefore { return "\(failedBefore)" }
            guard !chunk.isEmpty, !refused, let spool, spool.size + Int64(chunk.count) <= Int64.max else { return nil }
            do { try spool.append(chunk) } catch { return "\(error)" }
            return nil
        }) { session, failure in
            session.flushInFlight = false
            if let failure, session.spoolFailed == nil { session.spoolFailed = SpoolError(failure) }
            guard final else {
                session.flushSpoolIfDue()
                return
            }
            session.dataEnd = nil
            if let failure = session.spoolFailed, !refused {
                session.logger.error("DATA could not be spooled: \(failure)")
                session.spool?.close()
                session.spool = nil
                session.perform(session.machine.dataFailed(SMTPReply(451, "4.3.0", "local error in processing, try again later")))
            } else {
                if refused {
                    session.spool?.close()
                    session.spool = nil
                }
                session.perform(session.machine.dataReceived(outcome))
            }
        }
    }
}
