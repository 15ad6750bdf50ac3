import CLDAP
import Dispatch
import NIOConcurrencyHelpers
import NIOCore

/// At most `capacity` connections to the directory, kept between logins. A connection that failed (server down,
/// timed out) is dropped and a new one is made on the next call; a kept connection found dead (the directory
/// restarted, an idle connection closed by it) is replaced once at once.
final class LDAPConnectionPool: Sendable {
    /// Run on every new connection before its first use (the service account's bind); its failure drops it.
    typealias Setup = @Sendable (LDAPConnection) throws(LDAPError) -> Void

    let capacity: Int
    private let endpoint: LDAPEndpoint
    private let setup: Setup
    private let slots: DispatchSemaphore
    private let idle = NIOLockedValueBox([LDAPConnection]())

    init(capacity: Int, endpoint: LDAPEndpoint, setup: @escaping Setup = { _ throws(LDAPError) in }) {
        self.capacity = capacity
        self.endpoint = endpoint
        self.setup = setup
        slots = DispatchSemaphore(value: capacity)
    }

    /// Runs `body` on a connection, waiting at most the endpoint's timeout for one to be free.
    func withConnection<T>(_ body: (LDAPConnection) throws(LDAPError) -> T) throws(LDAPError) -> T {
        let wait = DispatchTime.now().uptimeNanoseconds + UInt64(max(endpoint.timeout.nanoseconds, 0))
        guard slots.wait(timeout: DispatchTime(uptimeNanoseconds: wait)) == .success else {
            throw LDAPError(code: LDAP_TIMEOUT, context: "all \(capacity) directory connections busy")
        }
        defer { slots.signal() }
        if let kept = idle.withLockedValue({ $0.popLast() }) {
            do {
                return try run(kept, body)
            } catch where error.code == LDAP_SERVER_DOWN {
                // A kept connection the directory closed meanwhile: once more on a new one.
            }
        }
        return try run(try connect(), body)
    }

    /// Connections kept now (for tests).
    var idleCount: Int { idle.withLockedValue { $0.count } }

    private func run<T>(_ connection: LDAPConnection, _ body: (LDAPConnection) throws(LDAPError) -> T) throws(LDAPError) -> T {
        do {
            let result = try body(connection)
            idle.withLockedValue { $0.append(connection) }
            return result
        } catch {
            if !error.dropsConnection { idle.withLockedValue { $0.append(connection) } }
            throw error
        }
    }

    private func connect() throws(LDAPError) -> LDAPConnection {
        let connection = try LDAPConnection(endpoint)
        try setup(connection)
        return connection
    }
}
