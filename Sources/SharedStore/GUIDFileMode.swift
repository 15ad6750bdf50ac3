#if canImport(Glibc)
import Glibc
#endif

/// The GUID file's permissions, checked as ssh checks a private key: the GUID keys every password record, so a
/// file that its group or others can read (or write, or run) is refused with the command that fixes it.
public enum GUIDFileMode {
    /// The mode `poplar init` creates the file with (in the `open`, never a chmod after).
    public static let created: mode_t = 0o600
    /// No bit for the group or others may be set.
    public static let forbiddenBits: mode_t = 0o077
    /// The largest GUID file read (a GUID is at most 128 hex digits and a newline).
    static let maxFileSize = 4096

    /// What is wrong with `mode` ("readable by others", "readable and writable by its group"), or nil if nothing is.
    public static func problem(_ mode: mode_t) -> String? {
        guard mode & forbiddenBits != 0 else { return nil }
        func access(_ bits: mode_t) -> String? {
            var words: [String] = []
            if bits & 0o4 != 0 { words.append("readable") }
            if bits & 0o2 != 0 { words.append("writable") }
            if bits & 0o1 != 0 { words.append("executable") }
            return words.isEmpty ? nil : words.joined(separator: " and ")
        }
        let others = access(mode & 0o7), group = access((mode >> 3) & 0o7)
        if let others, others == group { return "\(others) by its group and by others" }
        return [others.map { "\($0) by others" }, group.map { "\($0) by its group" }].compactMap { $0 }.joined(separator: " and ")
    }

    /// The whole refusal: what is wrong and the command that fixes it.
    public static func refusal(path: String, mode: mode_t) -> StoreError? {
        guard let problem = problem(mode) else { return nil }
        let octal = String(mode & 0o7777, radix: 8)
        let shown = String(repeating: "0", count: max(0, 4 - octal.count)) + octal
        return StoreError(code: .permissionDenied,
                          message: "the GUID file \(path) is \(problem) (mode \(shown)): run chmod 600 \(path)")
    }
}
