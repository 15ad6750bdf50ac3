import Admin
import Foundation
import Node
import NIOPosix
import SharedStore

/// What the console's handlers work on: the admin operations, the auth penalty the POP3 nodes use, and the thread
/// pool every store call and password hash runs on (never an event loop).
public struct ConsoleBackend: Sendable {
    public let admin: AdminOperations
    public let penalty: AuthPenalty
    public let pool: NIOThreadPool

    public init(admin: AdminOperations, penalty: AuthPenalty, pool: NIOThreadPool) {
        self.admin = admin
        self.penalty = penalty
        self.pool = pool
    }

    /// `body` on the thread pool.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}
