import Admin
import SharedStore

extension CommonOptions {
    /// The store opened for the admin operations shared with the console (`Admin`).
    func openAdmin() async throws -> AdminOperations {
        AdminOperations(store: try await openStore().0)
    }

    /// One admin operation on the store, its refusal printed as every CLI refusal is (`adminCall`).
    @discardableResult
    func admin<T>(_ body: (AdminOperations) throws -> T) async throws -> T {
        let admin = try await openAdmin()
        return try adminCall { try body(admin) }
    }
}

import ArgumentParser

/// `--password-stdin` where a password is required: the flag says where it comes from, so that no password is ever
/// read from an argument (which `ps` shows).
struct RequiredPasswordStdin: ParsableArguments {
    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input (required).") var passwordStdin = false

    /// The password from standard input, prepared (RFC 8265); a refusal without the flag.
    func read() throws -> String {
        guard passwordStdin else { throw UserError("pass --password-stdin and give the password on standard input") }
        return try readPasswordFromStdin()
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
