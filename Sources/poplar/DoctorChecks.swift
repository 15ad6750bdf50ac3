import Configuration
import Foundation
import Node
import ServerSupport
import SharedStore

#if canImport(Glibc)
import Glibc
#endif

/// One finding of `poplar doctor`: what was checked, how it stands, what was found and, when not ok, what to do.
struct DoctorFinding {
    enum Status: Int, Comparable {
        case ok = 0, warn = 1, fail = 2
        static func < (a: Status, b: Status) -> Bool { a.rawValue < b.rawValue }
        var word: String { ["ok", "warn", "fail"][rawValue] }
    }

    var name: String
    var status: Status
    var detail: String
    var advice: String?
    /// Measured values for `--json` ("rtt-ms", "skew-ms", "free-percent", …).
    var numbers: [String: Double] = [:]
}

/// The host-side checks of `poplar doctor` (configuration, GUID file, open-file limit, certificate); the store's
/// are in `DoctorStoreChecks`. Each appends one finding; none throws.
struct DoctorChecks {
    static let certificateWarnDays = 21.0

    var findings: [DoctorFinding] = []

    mutating func add(_ name: String, _ status: DoctorFinding.Status, _ detail: String, _ advice: String? = nil,
                      _ numbers: [String: Double] = [:]) {
        findings.append(DoctorFinding(name: name, status: status, detail: detail, advice: advice, numbers: numbers))
    }

    /// The configuration as `poplar config check` validates it: the file's keys and types (`ConfigSchema`), then every
    /// value as a node and a coordinator would take it. Returns the reader the other checks use (without the file if
    /// the file is refused) and the node's configuration when it is possible.
    mutating func configuration(_ common: CommonOptions) async -> (ConfigReader, NodeConfiguration?) {
        let path = common.config ?? ProcessInfo.processInfo.environment["POPLAR_CONFIG"]
        var reader = ConfigReader(providers: [EnvironmentVariablesProvider().prefixKeys(with: ["poplar"])])
        if let path {
            do {
                try CommonOptions.validateConfigurationFile(path)
                reader = try await common.reader()
            } catch let refused as ConfigurationRefused {
                add("config", .fail, refused.problems.joined(separator: "; "),
                    "fix \(path) (docs/configuration.md lists every key), then `poplar config check \(path)`")
                return (reader, nil)
            } catch {
                add("config", .fail, "\(path): \(error)", "fix \(path), then `poplar config check \(path)`")
                return (reader, nil)
            }
        }
        let source = path ?? "no configuration file (--config, POPLAR_CONFIG): defaults and POPLAR_* variables"
        do {
            let node = try NodeOptions.parse([]).configuration(reader)
            _ = try CoordinatorOptions.parse([]).configuration(reader)
            add("config", .ok, "\(path.map { "\($0): valid" } ?? source); every value possible for a node and a coordinator")
            return (reader, node)
        } catch {
            add("config", .fail, "\(source): a node or a coordinator would refuse it: \(error)",
                "fix the value (docs/configuration.md), then `poplar config check`")
            return (reader, nil)
        }
    }

    /// The GUID file: present, a regular file, no access for its group or others (`GUIDFileMode`, as a node checks
    /// it at start). Returns the file's GUIDs when it holds any, whatever its mode, so the store check can say
    /// whether they match.
    mutating func guidFile(_ path: String) -> ClusterKeyring? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            add("guid-file", .fail, "no GUID file at \(path) (\(reason))",
                "copy this cluster's GUID file (made by `poplar init`) from another node to \(path), mode 0600; or pass --guid-file")
            return nil
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            add("guid-file", .fail, "\(path) is not a regular file", "put this cluster's GUID file at \(path), mode 0600")
            return nil
        }
        let keyring = FileManager.default.contents(atPath: path).flatMap { try? ClusterKeyring(text: String(decoding: $0, as: UTF8.self)) }
        let mode = st.st_mode & 0o7777
        let octal = String(mode, radix: 8)
        let shownMode = String(repeating: "0", count: max(0, 4 - octal.count)) + octal
        if let problem = GUIDFileMode.problem(mode) {
            add("guid-file", .fail, "the GUID file \(path) is \(problem) (mode \(shownMode)): nodes refuse to start with it", "chmod 600 \(path)")
        } else if let keyring {
            add("guid-file", .ok, "\(path), mode \(shownMode), \(keyring.guids.count) GUID\(keyring.guids.count == 1 ? "" : "s")")
        } else {
            add("guid-file", .fail, "\(path) holds no cluster GUID (32 to 128 hexadecimal digits a line) or cannot be read",
                "copy this cluster's GUID file from another node to \(path), mode 0600")
        }
        return keyring
    }

    /// The soft open-file limit against what a node with `connections` sessions needs: 2 descriptors a connection (its
    /// socket and a message file it reads) plus 64 (listeners, the store's connections, the process's own).
    mutating func openFiles(maxConnections connections: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            add("open-files", .warn, "cannot read the open-file limit: \(String(cString: strerror(errno)))", "check `ulimit -n` where the node runs")
            return
        }
        let soft = limit.rlim_cur == rlim_t.max ? Double.infinity : Double(limit.rlim_cur)
        let needed = 2 * Double(connections) + 64
        let numbers = ["soft-limit": soft.isFinite ? soft : -1, "needed": needed, "max-connections": Double(connections)]
        let shown = soft.isFinite ? "\(Int(soft))" : "unlimited"
        if soft < needed {
            add("open-files", .warn,
                "soft limit \(shown) open files; a node with pop3.max-connections \(connections) needs \(Int(needed)) (2 a connection + 64)",
                "raise it where the node starts (LimitNOFILE=\(max(65536, Int(needed))) in its systemd unit, cluster/poplar-node.service; or ulimit -n \(Int(needed))), or lower pop3.max-connections",
                numbers)
        } else {
            add("open-files", .ok, "soft limit \(shown) open files; pop3.max-connections \(connections) needs \(Int(needed))", nil, numbers)
        }
    }

    /// The certificate a node would serve: loadable, valid now, not expiring within `certificateWarnDays`.
    mutating func certificate(_ path: String?, now: Date = Date()) {
        guard let path else {
            add("certificate", .ok, "no certificate configured (--cert, tls.cert): no POP3S or STLS to expire")
            return
        }
        let validity: (notBefore: Date, notAfter: Date)
        do {
            validity = try CertificateValidity.leaf(pemFile: path)
        } catch {
            add("certificate", .fail, "cannot load a certificate from \(path) (\(error))",
                "put the PEM certificate chain at \(path) (leaf first) and reload the node (SIGHUP)")
            return
        }
        let days = validity.notAfter.timeIntervalSince(now) / 86400
        let numbers = ["days-left": (days * 10).rounded() / 10]
        let until = JSONOutput.time(validity.notAfter)
        if days <= 0 {
            add("certificate", .fail, "\(path) expired on \(until) (\(Int(-days.rounded(.up))) days ago)",
                "renew it, install it at \(path) and reload every node and coordinator (SIGHUP)", numbers)
        } else if validity.notBefore > now {
            add("certificate", .fail, "\(path) is not valid before \(JSONOutput.time(validity.notBefore))",
                "check this host's clock, or install a certificate valid now", numbers)
        } else if days < Self.certificateWarnDays {
            add("certificate", .warn, "\(path) expires on \(until), in \(String(format: "%.1f", days)) days",
                "renew it within \(Int(days.rounded(.down))) days and reload every node and coordinator (SIGHUP)", numbers)
        } else {
            add("certificate", .ok, "\(path) valid until \(until) (\(Int(days.rounded(.down))) days)", nil, numbers)
        }
    }
}
