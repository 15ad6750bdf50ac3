import ArgumentParser
import Configuration
import Foundation
import POP3Core
import SharedStore
import SystemPackage

/// Options every command takes. Precedence: command line, environment (POPLAR_*), configuration file, default.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "The mail root: a directory path (env POPLAR_ROOT; config key root).")
    var root: String?

    @Option(name: .customLong("guid-file"), help: "The file holding the cluster GUID (env POPLAR_GUID_FILE; config key guid-file; default \(CommonOptions.defaultGUIDFile)).")
    var guidFile: String?

    @Option(name: .long, help: "A JSON configuration file (env POPLAR_CONFIG); docs/configuration.md lists its keys.")
    var config: String?

    static let defaultGUIDFile = "/etc/poplar/guid"

    /// Environment first, then the file: swift-configuration resolves in provider order. A file that cannot be used
    /// stops the program with exit 78.
    func reader() async throws -> ConfigReader {
        try await ConfigurationRefused.guarding { try await uncheckedReader() }
    }

    /// The same, for a SIGHUP: a mistake is thrown (`ConfigurationRefused`) for the caller to log, not an exit.
    func uncheckedReader() async throws -> ConfigReader {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider().prefixKeys(with: ["poplar"])]
        let path = config ?? ProcessInfo.processInfo.environment["POPLAR_CONFIG"]
        if let path {
            try Self.validateConfigurationFile(path)
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
            } catch {
                throw ConfigurationRefused(["configuration file \(path) is not valid JSON: \(error)"])
            }
        }
        return ConfigReader(providers: providers)
    }

    /// A configuration file with an unknown key, a value of the wrong type, or no valid JSON stops the program
    /// (exit 78) with every mistake named (`ConfigSchema`).
    static func validateConfigurationFile(_ path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationRefused(["configuration file \(path) does not exist or cannot be read"])
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigurationRefused(["configuration file \(path) is not valid JSON: \(error.localizedDescription)"])
        }
        let problems = ConfigSchema.problems(in: json)
        guard problems.isEmpty else { throw ConfigurationRefused(problems.map { "\(path): \($0)" }) }
    }

    func resolvedRoot(_ reader: ConfigReader) throws -> String {
        guard let root = root ?? reader.string(forKey: "root") else {
            throw UserError("no mail root given: pass --root PATH or set POPLAR_ROOT")
        }
        return root
    }

    func resolvedGUIDFile(_ reader: ConfigReader) -> String {
        guidFile ?? reader.string(forKey: "guid-file") ?? Self.defaultGUIDFile
    }

    /// Opens the volume a root names (a path, or `nfs://`), with every call timed for the metrics.
    static func openVolume(_ root: String) throws -> any Volume {
        if root.hasPrefix("nfs://") {
            do {
                return MeteredVolume(try NFSVolume(url: root))
            } catch let error as StoreError {
                throw UserError("cannot open the mail root \(root): \(error.message)")
            }
        }
        do {
            return MeteredVolume(try POSIXVolume(rootPath: root))
        } catch let error as StoreError {
            throw UserError("cannot open the mail root \(root): \(error.message)")
        }
    }

    /// Opens the mail root with the cluster GUID, refusing a GUID that does not match the root's check value.
    func openStore() async throws -> (MailStore, ConfigReader) {
        let reader = try await reader()
        let root = try resolvedRoot(reader)
        let guidPath = resolvedGUIDFile(reader)
        let volume = try Self.openVolume(root)
        let keyring: ClusterKeyring
        do {
            keyring = try ClusterKeyring.load(fromFile: guidPath)
        } catch let error as StoreError {
            throw UserError("cannot read the cluster GUID: \(error.message)")
        }
        do {
            return (try MailStore.open(volume: volume, keyring: keyring), reader)
        } catch let error as StoreError {
            throw UserError(error.message)
        }
    }
}

/// Runs a store call and turns its typed error into a message for the operator.
func storeCall<T>(_ what: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as StoreError {
        throw UserError("\(what): \(error.message)")
    } catch let refusal as LockRefusal {
        switch refusal {
        case .inUse(let owner):
            throw UserError("\(what): the mailbox is in use by a session on node \(owner.node) since \(ISO8601DateFormatter().string(from: owner.since))")
        case .adminLocked(let owner):
            throw UserError("\(what): the mailbox is locked by the administrator (\(owner.node)) since \(ISO8601DateFormatter().string(from: owner.since))")
        }
    }
}

/// Reads a password from standard input: one line, without its line end. Passwords never come from arguments
/// (they would show in `ps` and shell history).
func readPasswordFromStdin() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw UserError("no password on standard input")
    }
    guard line.utf8.count <= 1024 else { throw UserError("password longer than 1024 bytes") }
    // RFC 8265 §4.2 (OpaqueString), as a session that sent UTF8 prepares what it receives (RFC 6856): the same
    // password typed in another Unicode normalization form still matches. ASCII passwords are unchanged.
    guard let prepared = PRECISOpaqueString.enforce(line) else {
        throw UserError("the password holds characters RFC 8265 does not allow in passwords (controls, unassigned or invisible characters)")
    }
    return prepared
}
