/// The names the PAM directory will ask about: the local part of a login must be a portable Unix user name,
/// `[a-z_][a-z0-9_-]{0,31}` (the shadow suite's default rule, without the `$` of machine accounts). Anything else is
/// refused before PAM is called, so no module ever sees a name with a path, a space, an option's dash or a dot.
enum UnixUserName {
    /// Linux's useradd limit (`LOGIN_NAME_MAX` is larger; 32 is what `utmp` and the shadow suite keep).
    static let maxLength = 32

    static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maxLength else { return false }
        guard isLowercaseLetter(first) || first == UInt8(ascii: "_") else { return false }
        return bytes.dropFirst().allSatisfy { isLowercaseLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isLowercaseLetter(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}
