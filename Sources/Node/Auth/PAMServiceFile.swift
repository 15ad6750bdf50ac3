import Glibc

/// The PAM service's own configuration file. Linux-PAM falls back to the `other` service when a service has no file,
/// and Debian's `other` includes common-auth and common-account (pam_unix): a misspelt `auth.pam.service` would
/// quietly authenticate against every local account. Poplar asks PAM only when the service's own file is there.
enum PAMServiceFile {
    /// Where Linux-PAM looks for `<service>`, in its order (the vendor directory second).
    static let directories = ["/etc/pam.d", "/usr/lib/pam.d"]

    /// The file, or nil when the service has none.
    static func path(of service: String) -> String? {
        directories.map { "\($0)/\(service)" }.first { access($0, F_OK) == 0 }
    }

    static func problem(_ service: String) -> String? {
        path(of: service) == nil ? "PAM service \(service) has no configuration file (\(directories.map { "\($0)/\(service)" }.joined(separator: ", ")))" : nil
    }
}
