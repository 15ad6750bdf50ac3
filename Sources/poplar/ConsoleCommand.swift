import ArgumentParser
import Console
import Foundation
import Logging
import NIOCore
import Node
import ServerSupport

/// `poplar console --listen HOST:PORT --cert PEM --key PEM`: the web console over HTTPS (docs/console.md).
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Serve the web console over HTTPS: domains, mailboxes and the audit log, for the administrators of `poplar admin-user`."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Address HOST:PORT (default 127.0.0.1:8443).") var listen: String = "127.0.0.1:8443"
    @Option(help: "The certificate chain, PEM.") var cert: String
    @Option(help: "The private key, PEM.") var key: String
    @Option(name: .customLong("idle-timeout"), help: "A session ends after this many seconds without a request (default \(Int(ConsoleLimits.defaultIdleSeconds))).")
    var idleTimeout: Double = ConsoleLimits.defaultIdleSeconds
    @Option(name: .customLong("penalty-exempt"), help: "Networks whose failed logins are not counted, comma-separated CIDR blocks, or none (default 127.0.0.0/8,::1, as the nodes).")
    var penaltyExempt: String?
    @Option(name: .customLong("trusted-proxy"), help: "Reverse proxies whose X-Forwarded-For names the client, comma-separated CIDR blocks (default none).")
    var trustedProxy: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info).") var logLevel: String = "info"

    func run() async throws {
        guard idleTimeout >= 10, idleTimeout <= 86_400 else { throw UserError("--idle-timeout must be 10 to 86400 seconds") }
        guard let level = Logger.Level(rawValue: logLevel) else { throw UserError("--log-level: \(logLevel) is not a level") }
        let address = try parseAddress(listen)
        guard let host = address.ipAddress, let port = address.port else { throw UserError("--listen \(listen) is not HOST:PORT") }
        var penalty = AuthPenalty.Policy()
        if let penaltyExempt {
            do {
                penalty.exempt = penaltyExempt == "none" ? TrustedNetworks() : try TrustedNetworks(parsing: penaltyExempt)
            } catch {
                throw UserError("--penalty-exempt: \(error)")
            }
        }
        var proxies = TrustedNetworks()
        if let trustedProxy {
            do { proxies = try TrustedNetworks(parsing: trustedProxy) } catch { throw UserError("--trusted-proxy: \(error)") }
        }
        let (store, _) = try await common.openStore()
        bootstrapLogging(level: level)
        var logger = Logger(label: "poplar.console")
        logger.logLevel = level
        let configuration = ConsoleServer.Configuration(host: host, port: port, certificatePath: cert, privateKeyPath: key,
                                                        idleSeconds: idleTimeout, penalty: penalty, trustedProxies: proxies)
        try await ConsoleServer.run(configuration, store: store, logger: logger) { channel in
            let bound = channel.localAddress?.port ?? port
            let line = "console listening on https://\(host.contains(":") ? "[\(host)]" : host):\(bound)/\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
    }
}
