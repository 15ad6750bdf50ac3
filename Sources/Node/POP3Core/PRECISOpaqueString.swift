import Foundation

/// The PRECIS OpaqueString profile (RFC 8265 §4.2), which RFC 6856 §2 has a POP3 server apply to a password once the
/// client sent UTF8. Enforcement (§4.2.2): non-ASCII spaces (General Category Zs) become U+0020, then NFC. Fullwidth
/// and halfwidth characters are kept as they are (§4.2.2 rule 1: "MUST NOT be mapped"), case is kept (rule 3). The
/// FreeformClass (RFC 8264 §4.3) is checked in part: control characters, unassigned code points, non-characters and
/// the default-ignorable code points are refused, and so is the empty string (RFC 8265 §4.2.2 last paragraph).
/// Simplified: ZERO WIDTH (NON-)JOINER, which RFC 8264 allows in the contexts of RFC 5892 Appendix A.1/A.2, are
/// refused in every context; the old Hangul jamo (§9.9) and RFC 5892's exceptions are not checked.
public enum PRECISOpaqueString {
    /// The enforced password, or nil when RFC 8265 refuses it.
    public static func enforce(_ text: String) -> String? {
        var mapped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            mapped.append(isNonASCIISpace(scalar) ? " " : scalar)
        }
        let normalized = String(mapped).precomposedStringWithCanonicalMapping
        guard !normalized.isEmpty else { return nil }
        for scalar in normalized.unicodeScalars where isDisallowed(scalar) { return nil }
        return normalized
    }

    /// RFC 8265 §4.2.2 rule 2: a Zs code point other than U+0020.
    static func isNonASCIISpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value != 0x20 && scalar.properties.generalCategory == .spaceSeparator
    }

    /// Not in the FreeformClass (RFC 8264 §9): controls (§9.12), default-ignorable code points (§9.13: soft hyphen,
    /// zero-width joiners and the like), non-characters (§9.14, "PrecisIgnorableProperties"), unassigned (§9.16),
    /// surrogates cannot occur in a Swift string.
    static func isDisallowed(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .control, .unassigned: return true
        default: break
        }
        return properties.isDefaultIgnorableCodePoint || properties.isNoncharacterCodePoint
    }
}
