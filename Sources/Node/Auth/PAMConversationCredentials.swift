import CPAM

/// The two answers a PAM conversation may give for one login: the user name and the password, as NUL-terminated C
/// copies that the transaction owns. `wipe()` overwrites and frees them; it is called once, by the thread that ran
/// the transaction (which may outlive the login that started it, after a timeout).
// @unchecked Sendable: made by the login, then handed to exactly one transaction thread, which alone reads and wipes it.
final class PAMConversationCredentials: @unchecked Sendable {
    let user: UnsafeMutableBufferPointer<CChar>
    let password: UnsafeMutableBufferPointer<CChar>

    /// Nil when either holds a NUL byte (a C string cannot carry it; such a password cannot be an account's).
    init?(user: String, password: String) {
        guard !user.utf8.contains(0), !password.utf8.contains(0) else { return nil }
        self.user = Self.copy(user)
        self.password = Self.copy(password)
    }

    private static func copy(_ text: String) -> UnsafeMutableBufferPointer<CChar> {
        let bytes = text.utf8
        let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: bytes.count + 1)
        var i = 0
        for byte in bytes {
            buffer[i] = CChar(bitPattern: byte)
            i += 1
        }
        buffer[i] = 0
        return buffer
    }

    func wipe() {
        for buffer in [user, password] {
            poplar_pam_wipe(buffer.baseAddress, buffer.count)
            buffer.deallocate()
        }
    }
}
