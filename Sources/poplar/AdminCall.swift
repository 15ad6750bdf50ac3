import Admin
import SharedStore

extension CommonOptions {
    /// The store opened for the admin operations shared with the console (`Admin`).
    func openAdmin() async throws -> AdminOperations {
        AdminOperations(store: try await openStore().0)
    }
}

extension AdminActor {
    /// This command line, on this host, in the audit log.
    static var cli: AdminActor { .commandLine(host: NodeIdentity.host) }
}

/// An admin operation whose refusal is printed as the CLI prints every refusal ("poplar: <text>", exit 1).
@discardableResult
func adminCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as AdminError {
        throw UserError(error.description)
    }
}
