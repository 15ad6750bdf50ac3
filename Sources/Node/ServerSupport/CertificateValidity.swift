import Foundation
import NIOSSL

/// The validity period of the leaf certificate of a PEM chain, as the node loads it (`poplar doctor`).
public enum CertificateValidity {
    /// The first certificate of the PEM file: when it becomes valid and when it expires. Throws if the file holds
    /// no certificate NIOSSL can load.
    public static func leaf(pemFile path: String) throws -> (notBefore: Date, notAfter: Date) {
        guard let leaf = try NIOSSLCertificate.fromPEMFile(path).first else { throw NIOSSLError.failedToLoadCertificate }
        return (Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore)), Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)))
    }
}
