import Foundation
import XCTest

/// Real system accounts for the PAM suite (CI runs as root): users made with useradd (no home, no shell), their
/// passwords set with chpasswd, a group with one of them in it, and PAM service files of the suite's own in
/// /etc/pam.d, every name unique to the run. `remove()` takes back whatever was made, even half way.
final class PAMFixture {
    /// Random lowercase hex after each name: runs on one machine at once never share an account.
    static let suffixLength = 6
    /// How long the suite lets one of its commands (useradd, chpasswd, …) run.
    static let commandTimeout: TimeInterval = 30

    let suffix: String
    /// In the group, right password.
    let member: String
    /// Not in the group, right password.
    let outsider: String
    /// In the group, `usermod -L`.
    let locked: String
    /// In the group, `chage -E 0`.
    let expired: String
    /// In the group, `chage -d 0`: must change the password before logging in.
    let mustChange: String
    /// Never created.
    let unknown: String
    let group: String
    /// auth and account through pam_unix only.
    let service: String
    /// pam_exec running `sleep` before pam_unix: a module that hangs.
    let slowService: String
    /// A service name with no file.
    let missingService: String
    let password = "Corr3ct horse-battery staple!"
    static let slowModuleSeconds = 5

    private var users: [String] = []
    private var groups: [String] = []
    private var files: [String] = []

    static var unavailableReason: String? {
        if geteuid() != 0 { return "the PAM suite makes system accounts: run as root (CI does)" }
        for tool in ["/usr/sbin/useradd", "/usr/sbin/chpasswd", "/usr/sbin/groupadd", "/usr/sbin/usermod", "/usr/bin/chage"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing"
        }
        return nil
    }

    static var hasPAMExec: Bool {
        ["/usr/lib/x86_64-linux-gnu/security", "/lib/x86_64-linux-gnu/security", "/usr/lib/aarch64-linux-gnu/security",
         "/lib/aarch64-linux-gnu/security", "/usr/lib/security", "/lib/security"]
            .contains { FileManager.default.fileExists(atPath: "\($0)/pam_exec.so") }
    }

    init() throws {
        let alphabet = Array("0123456789abcdef")
        suffix = String((0..<Self.suffixLength).map { _ in alphabet.randomElement()! })
        member = "pmem_\(suffix)"
        outsider = "pout_\(suffix)"
        locked = "plck_\(suffix)"
        expired = "pexp_\(suffix)"
        mustChange = "pchg_\(suffix)"
        unknown = "pnon_\(suffix)"
        group = "pgrp_\(suffix)"
        service = "poplar-test-\(suffix)"
        slowService = "poplar-test-\(suffix)-slow"
        missingService = "poplar-test-\(suffix)-missing"
        do {
            try make()
        } catch {
            remove()
            throw error
        }
    }

    private func make() throws {
        try Self.run("/usr/sbin/groupadd", [group])
        groups.append(group)
        for user in [member, outsider, locked, expired, mustChange] {
            try Self.run("/usr/sbin/useradd", ["-M", "-s", "/usr/sbin/nologin", user])
            users.append(user)
        }
        try Self.run("/usr/sbin/chpasswd", [], input: [member, outsider, locked, expired, mustChange].map { "\($0):\(password)\n" }.joined())
        for user in [member, locked, expired, mustChange] {
            try Self.run("/usr/sbin/usermod", ["-aG", group, user])
        }
        try Self.run("/usr/sbin/usermod", ["-L", locked])
        try Self.run("/usr/bin/chage", ["-E", "0", expired])
        try Self.run("/usr/bin/chage", ["-d", "0", mustChange])
        try write("/etc/pam.d/\(service)", """
            # Poplar's PAM suite (Tests/ServerTests/PAMFixture.swift): removed after each test.
            auth     required  pam_unix.so
            account  required  pam_unix.so

            """)
        try write("/etc/pam.d/\(slowService)", """
            # Poplar's PAM suite: a module that hangs for \(Self.slowModuleSeconds) s before pam_unix.
            auth     required  pam_exec.so quiet /bin/sleep \(Self.slowModuleSeconds)
            auth     required  pam_unix.so
            account  required  pam_unix.so

            """)
    }

    private func write(_ path: String, _ text: String) throws {
        files.append(path)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Idempotent; every step is tried whatever failed before it.
    func remove() {
        for user in users { try? Self.run("/usr/sbin/userdel", [user]) }
        for group in groups { try? Self.run("/usr/sbin/groupdel", [group]) }
        for file in files { try? FileManager.default.removeItem(atPath: file) }
        users = []
        groups = []
        files = []
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ tool: String, _ arguments: [String], input: String? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let stdin = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(commandTimeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw CommandFailed(description: "\(tool) \(arguments.joined(separator: " ")) did not finish in \(commandTimeout) s")
        }
        let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw CommandFailed(description: "\(tool) \(arguments.joined(separator: " ")): exit \(process.terminationStatus) \(errors)")
        }
    }
}
