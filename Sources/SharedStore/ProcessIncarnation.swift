import Foundation

/// Which process, on which boot of which machine: the kernel's boot id, the process's pid namespace, its pid and its
/// start time in clock ticks since boot. Written into a lease's owner record, so that a process restarted under the
/// same name can tell that the holder it finds is its own dead predecessor and take the lease back at once, instead
/// of waiting a whole lease for a process that cannot answer. Only a holder on this very kernel boot and pid namespace
/// is ever judged: anywhere else (another machine, a container, after a reboot) the lease runs its course.
public struct ProcessIncarnation: Sendable, Equatable, CustomStringConvertible {
    public let bootID: String
    public let pidNamespace: String
    public let pid: Int32
    public let startTicks: UInt64

    /// This process (nil where /proc does not say: then nothing is ever reclaimed early).
    public static let current: ProcessIncarnation? = {
        guard let boot = bootID(), let ns = pidNamespace(), let start = startTicks(of: getpid()) else { return nil }
        return ProcessIncarnation(bootID: boot, pidNamespace: ns, pid: getpid(), startTicks: start)
    }()

    init(bootID: String, pidNamespace: String, pid: Int32, startTicks: UInt64) {
        self.bootID = bootID
        self.pidNamespace = pidNamespace
        self.pid = pid
        self.startTicks = startTicks
    }

    /// "<boot id>/<pid namespace>/<pid>/<start ticks>"; nil for anything else (a record is data from the NAS).
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, (1...64).contains(parts[0].utf8.count), (1...64).contains(parts[1].utf8.count),
            parts[0].utf8.allSatisfy(Self.isPlain), parts[1].utf8.allSatisfy(Self.isPlain),
            let pid = Int32(parts[2]), pid > 0, let start = UInt64(parts[3])
        else { return nil }
        self.init(bootID: String(parts[0]), pidNamespace: String(parts[1]), pid: pid, startTicks: start)
    }

    public var description: String { "\(bootID)/\(pidNamespace)/\(pid)/\(startTicks)" }

    /// True only if this incarnation belongs to this kernel boot and pid namespace, is not this process, and no living
    /// process has its pid and start time: it crashed (or was killed) and can never write again.
    public var isDeadHere: Bool {
        guard let me = Self.current, bootID == me.bootID, pidNamespace == me.pidNamespace, self != me else { return false }
        return Self.startTicks(of: pid) != startTicks
    }

    private static func isPlain(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x2D
            || byte == 0x3A || byte == 0x5B || byte == 0x5D
    }

    private static func bootID() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    /// "pid:[4026531836]" → "4026531836".
    private static func pidNamespace() -> String? {
        guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid") else { return nil }
        let digits = link.filter(\.isNumber)
        return digits.isEmpty ? nil : String(digits)
    }

    /// Field 22 of /proc/PID/stat (after the command name, which may hold spaces and parentheses).
    static func startTicks(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }
}
