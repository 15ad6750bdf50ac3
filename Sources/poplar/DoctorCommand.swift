import ArgumentParser
import Foundation
import Node

/// `poplar doctor`: checks what breaks clusters in practice, from the host it runs on (a node's, with its
/// configuration), and says for each finding what to do (docs/operations.md, "Doctor"). Exit 0: all ok; 1: a
/// warning; 2: a failure.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this host and the cluster's store for what breaks clusters, and say what to do.",
        discussion: """
            Checks the configuration, the GUID file, the mail root and its round trip, the NAS's clock, the node \
            registry, free space and inodes, the open-file limit and the certificate. Prints one line per check \
            (ok, warn or fail) and, when not ok, what to do. Exit 0 when all are ok, 1 on a warning, 2 on a failure.
            """
    )
    @OptionGroup var common: CommonOptions
    @OptionGroup var output: JSONOutputOption
    @Option(help: "The certificate chain to check, PEM (default: config tls.cert).") var cert: String?

    static let storeChecks = ["clock-skew", "registry-silent", "registry-version", "registry-draining"]

    func run() async throws {
        var checks = DoctorChecks()
        let (reader, node) = await checks.configuration(common)
        let guidPath = common.resolvedGUIDFile(reader)
        let keyring = checks.guidFile(guidPath)
        let root = common.root ?? reader.string(forKey: "root")
        if let volume = checks.mailRoot(root), let root {
            if let store = checks.guidMatches(volume, keyring, file: guidPath, root: root) {
                checks.clockSkew(store)
                checks.registry(store)
            } else {
                checks.notChecked(Self.storeChecks, "the store did not open with this GUID file")
            }
            checks.freeSpace(volume)
        } else {
            checks.notChecked(["guid-match"] + Self.storeChecks + ["free-space", "free-inodes"], "the mail root did not open")
        }
        checks.openFiles(maxConnections: max(1, node?.maxConnections ?? reader.int(forKey: "pop3.max-connections") ?? NodeConfiguration().maxConnections))
        checks.certificate(cert ?? node?.certificatePath ?? reader.string(forKey: "tls.cert"))

        let worst = checks.findings.map(\.status).max() ?? .ok
        if output.json {
            JSONOutput.print(["status": worst.word, "checks": checks.findings.map(Self.json)])
        } else {
            for f in checks.findings {
                print(f.status.word.padding(toLength: 4, withPad: " ", startingAt: 0) + "  \(f.name): \(f.detail)")
                if f.status != .ok, let advice = f.advice { print("      -> \(advice)") }
            }
        }
        if worst != .ok { throw ExitCode(Int32(worst.rawValue)) }
    }

    static func json(_ f: DoctorFinding) -> [String: Any] {
        var out: [String: Any] = ["name": f.name, "status": f.status.word, "detail": f.detail,
                                  "advice": f.status == .ok ? NSNull() : JSONOutput.optional(f.advice)]
        for (key, value) in f.numbers { out[key] = value }
        return out
    }
}
