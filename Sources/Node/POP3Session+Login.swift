import Foundation
import Logging
import Metrics
import NIOCore
import POP3Core
import SharedStore

/// Login (on the thread pool, every failure answered after the same delay) and the mailbox lock's heartbeat.
extension POP3Session {
    func authenticate(_ credentials: POP3Credentials) {
        guard let connection, let loop = connection.eventLoop else { return }
        if shared.isDraining {
            // `poplar node drain` or SIGTERM: sessions in flight finish, new ones go to another node.
            connection.hold()
            loginCompleted(.init(outcome: .temporaryFailure("this node is draining, connect again"), session: nil, label: "draining"))
            return
        }
        connection.hold()
        connection.flush()
        let authenticator = shared.authenticator
        journal.mechanism = SessionJournal.mechanism(credentials)
        let sessionID = self.sessionID
        let peer = connection.peerAddress
        let nodeDelay = shared.configuration.authFailureDelay
        let pool = shared.threadPool
        let bound = NIOLoopBound(self, eventLoop: loop)
        // The penalty's slot first (`AuthPenalty`): the check itself waits for it, so more connections buy no guesses.
        // Without a wait, admission and the check are one job on the pool (one hand-off each way, not two).
        let started = NIODeadline.now()
        let delayed = { @Sendable (result: Authenticator.Result, ticket: Authenticator.LoginTicket, checkStarted: NIODeadline)
            -> EventLoopFuture<Authenticator.Result> in
            // Every failed login waits the same time, so a wrong password and an unknown user look alike.
            if case .success = result.outcome { return loop.makeSucceededFuture(result) }
            let remaining = max(nodeDelay, ticket.failureDelay ?? nodeDelay) - (NIODeadline.now() - checkStarted)
            guard remaining > .zero else { return loop.makeSucceededFuture(result) }
            return loop.scheduleTask(in: remaining) { result }.futureResult
        }
        pool.runIfActive(eventLoop: loop) { () -> (Authenticator.LoginTicket, Authenticator.Result?) in
            let ticket = authenticator.admit(credentials, peer: peer)
            guard ticket.refusal == nil, ticket.wait <= .zero else { return (ticket, nil) }
            return (ticket, authenticator.authenticate(credentials, sessionID: sessionID, ticket: ticket))
        }.flatMap { ticket, checked -> EventLoopFuture<Authenticator.Result> in
            if let refusal = ticket.refusal { return loop.scheduleTask(in: nodeDelay) { refusal }.futureResult }
            if let checked { return delayed(checked, ticket, started) }
            return loop.flatScheduleTask(in: ticket.wait) {
                // The client may have gone while it waited for its slot: no check for nobody.
                guard !bound.value.isClosing else {
                    return loop.makeSucceededFuture(.init(outcome: .badCredentials, session: nil, label: "gone"))
                }
                let checkStarted = NIODeadline.now()
                return pool.runIfActive(eventLoop: loop) {
                    authenticator.authenticate(credentials, sessionID: sessionID, ticket: ticket)
                }.flatMap { delayed($0, ticket, checkStarted) }
            }.futureResult
        }.whenComplete { result in
            let session = bound.value
            switch result {
            case .success(let result):
                session.loginCompleted(result)
            case .failure(let error):
                session.logger.error("login could not run: \(error)")
                session.loginCompleted(.init(outcome: .temporaryFailure("server busy, try again later"), session: nil, label: "temporary"))
            }
        }
    }

    /// Ends the hold `authenticate` took.
    private func loginCompleted(_ result: Authenticator.Result) {
        Counter(label: "poplar_pop3_logins_total", dimensions: [("result", result.label)]).increment()
        guard !isClosing else {
            // The client left (or its time ran out) while the login ran: give the lock straight back.
            if let session = result.session { shared.releaseInBackground(session, logger: logger) }
            connection?.release()
            return
        }
        if let session = result.session {
            if let policy = result.policy { machine.applyDomainPolicy(loginDelaySeconds: policy.loginDelay, expireDays: policy.expireDays) }
            mailbox = session
            startHeartbeat(session)
            shared.sessionLoggedIn(sessionID, NodeRecord.Session(mailbox: session.address.description, session: sessionID,
                                                                 peer: peerDescription, since: Date()))
            logger[metadataKey: "pop3.mailbox"] = .string(session.address.description)
            logger.info("login", metadata: ["pop3.messages": .stringConvertible(session.messages.count),
                                            "pop3.lock.takeover": .stringConvertible(session.tookOver),
                                            "pop3.intent.finished": .stringConvertible(session.finishedIntent)])
            connection?.loggedIn()
            connection?.idleTimeout = shared.configuration.idleTimeout
        } else if let detail = result.detail {
            logger.warning("login failed in the store", metadata: ["pop3.result": .string(result.label), "store.error": .string(detail)])
        } else {
            logger.info("login refused", metadata: ["pop3.result": .string(result.label)])
        }
        perform(machine.authenticationCompleted(result.outcome))
        workFinished()
    }

    // MARK: Lease heartbeat

    private func startHeartbeat(_ session: MailboxSession) {
        guard let loop = connection?.eventLoop else { return }
        let interval = TimeAmount.nanoseconds(Int64(session.heartbeatInterval))
        // The task holds the session until it is cancelled: when the mailbox is given back or the connection ends.
        let bound = NIOLoopBound(self, eventLoop: loop)
        heartbeatTask = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            bound.value.heartbeat(session)
        }
    }

    private func heartbeat(_ session: MailboxSession) {
        guard let loop = connection?.eventLoop, mailbox === session, !heartbeatInFlight else { return }
        heartbeatInFlight = true
        let bound = NIOLoopBound(self, eventLoop: loop)
        shared.threadPool.runIfActive(eventLoop: loop) { session.heartbeat() }.whenComplete { result in
            let this = bound.value
            this.heartbeatInFlight = false
            guard this.mailbox === session else { return }
            switch result {
            case .success(.confirmed):
                break
            case .success(.unconfirmed(let reason)):
                Counter(label: "poplar_lock_heartbeats_unconfirmed_total").increment()
                this.logger.warning("lock heartbeat not confirmed: \(reason)")
            case .success(.lost(let reason)):
                this.lockLost(reason)
            case .failure(let error):
                this.logger.warning("lock heartbeat could not run: \(error)")
                if let reason = session.lostReason { this.lockLost(reason) }
            }
        }
    }

    /// The session can no longer be sure it holds its mailbox: it ends before its lease can run out elsewhere,
    /// deleting nothing. The release that follows leaves a lock that is not this session's alone.
    private func lockLost(_ reason: String) {
        journal.ended = "lock-lost"
        Counter(label: "poplar_lock_lost_total").increment()
        logger.error("mailbox lock lost, ending the session without deleting: \(reason)")
        connection?.close()
    }
}
