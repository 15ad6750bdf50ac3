/// The capabilities Poplar announces (RFC 2449 §6), written once: CAPA builds its list from here, and the unit
/// tests, the live tests and the real-client tests (Tests/clients/run_clients.py reads `always` from this file) check
/// against it.
public enum POP3Capabilities {
    /// Announced on every connection, in this order, before the ones that depend on the connection.
    /// "UTF8 USER" and "LANG" (RFC 6856 §2, §3; announced in both states): UTF8 is accepted on every connection and
    /// after it USER, PASS and AUTH PLAIN/LOGIN take UTF-8 names and passwords (prepared with RFC 8265's profiles), so
    /// the USER argument is always announced, also where plaintext USER waits for STLS.
    public static let always = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "LOGIN-DELAY 0", "UTF8 USER", "LANG"]
    /// Plaintext USER/PASS (RFC 2449 §6.8), when the plaintext policy allows it on this connection.
    public static let user = "USER"
    /// STLS (RFC 2595 §4), in AUTHORIZATION on a connection that is not TLS yet and has a certificate.
    public static let startTLS = "STLS"
    /// "SASL <mechanisms>" (RFC 5034 §6), when at least one mechanism is usable.
    public static func sasl(_ mechanisms: [String]) -> String { "SASL " + mechanisms.joined(separator: " ") }
    /// "IMPLEMENTATION <text>" (RFC 2449 §6.9), only when configured.
    public static func implementation(_ text: String) -> String { "IMPLEMENTATION \(text)" }
}
