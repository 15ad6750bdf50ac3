import NIOCore
import POP3Core

/// AUTH SCRAM-SHA-256: the machine asked for the keys of a login name; they are read from the store on the thread
/// pool (two small reads) while the connection holds its input.
extension POP3Session {
    func lookupSCRAM(_ user: String) {
        guard let connection, let loop = connection.eventLoop else { return }
        connection.hold()
        let authenticator = shared.authenticator
        let bound = NIOLoopBound(self, eventLoop: loop)
        shared.threadPool.runIfActive(eventLoop: loop) {
            authenticator.scramKeys(user: user)
        }.whenComplete { result in
            let session = bound.value
            guard !session.isClosing else {
                session.connection?.release()
                return
            }
            switch result {
            case .success(let lookup):
                if case .unavailable(let text) = lookup { session.logger.warning("SCRAM keys could not be read: \(text)") }
                session.perform(session.machine.scramKeysLoaded(lookup))
            case .failure(let error):
                session.logger.error("SCRAM lookup could not run: \(error)")
                session.perform(session.machine.scramKeysLoaded(.unavailable("server busy, try again later")))
            }
            session.workFinished()
        }
    }
}
