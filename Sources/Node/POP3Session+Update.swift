import Logging
import NIOCore
import POP3Core
import SharedStore

/// UPDATE (RFC 1939 §6): the deletions of this session's snapshot, fenced by the lock, then the lock given back.
extension POP3Session {
    func update(_ deletions: [POP3Message]) {
        guard let connection, let loop = connection.eventLoop else { return }
        guard let session = mailbox else {
            perform(machine.updateCompleted(.success(0)))
            return
        }
        connection.hold()
        connection.flush()
        mailbox = nil
        // Deletions come from this session's snapshot, in its order: one lookup each (a mailbox can hold many).
        let byUIDL = Dictionary(session.messages.map { ($0.uidl, $0) }, uniquingKeysWith: { first, _ in first })
        let toDelete = deletions.compactMap { byUIDL[$0.uidl] }
        // Messages past the domain's retention period (EXPIRE) go with the session's own deletions.
        let expired = session.expired
        let logger = self.logger
        let shared = self.shared
        let noted = journalRecord(session)
        let bound = NIOLoopBound(self, eventLoop: loop)
        shared.threadPool.runIfActive(eventLoop: loop) { () -> Result<Int, POP3UpdateFailure> in
            var journal = noted
            // The journal line, then the lock given back before the reply, so the client can come straight back;
            // the release is retried if the store is away.
            defer {
                if let journal {
                    do { try session.appendJournal(journal) } catch { logger.warning("access journal not written: \(error)") }
                }
                do { try session.release() } catch { shared.releaseInBackground(session, logger: logger) }
            }
            do {
                if !toDelete.isEmpty || !expired.isEmpty { try session.commit(deleting: toDelete + expired) }
                if !expired.isEmpty { logger.info("expired messages deleted", metadata: ["pop3.expired": .stringConvertible(expired.count)]) }
                journal?.ended = "quit"
                journal?.deleted = toDelete.count + expired.count
                return .success(toDelete.count)
            } catch {
                logger.error("update failed: \(error)")
                journal?.ended = "update-failed"
                return .failure(POP3UpdateFailure(message: "could not delete the messages, try again"))
            }
        }.whenComplete { result in
            let this = bound.value
            switch result {
            case .success(let outcome):
                if case .success(let n) = outcome { this.logger.info("update", metadata: ["pop3.deleted": .stringConvertible(n)]) }
                this.perform(this.machine.updateCompleted(outcome))
            case .failure:
                this.perform(this.machine.updateCompleted(.failure(POP3UpdateFailure(message: "server busy, nothing deleted"))))
            }
            this.workFinished()
        }
    }
}
