import Foundation

/// The PRECIS UsernameCasePreserved profile (RFC 8265 §3.4), applied to a user name once the client sent UTF8
/// (RFC 6856 §2: a server announcing "UTF8 USER" prepares USER and PASS with SASLprep or a successor; RFC 8265 is
/// that successor). Enforcement (§3.4.2): fullwidth and halfwidth characters become their decompositions ("ａ" is
/// "a"), then NFC; case is kept, so the store's own rules for names still decide. The IdentifierClass (RFC 8264 §4.2)
/// is checked as its derived property says: printable ASCII, or letters, digits and marks without a compatibility
/// decomposition; spaces, controls, symbols, non-ASCII punctuation, ignorable and unassigned code points are refused,
/// and so is the empty string. Not checked: the bidi rule (RFC 5893) and RFC 5892's contextual rules.
public enum PRECISUsernameCasePreserved {
    /// The enforced user name, or nil when RFC 8265 refuses it.
    public static func enforce(_ text: String) -> String? {
        var mapped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if hasWidthDecomposition(scalar) {
                mapped.append(contentsOf: String(scalar).decomposedStringWithCompatibilityMapping.unicodeScalars)
            } else {
                mapped.append(scalar)
            }
        }
        let normalized = String(mapped).precomposedStringWithCanonicalMapping
        guard !normalized.isEmpty else { return nil }
        for scalar in normalized.unicodeScalars where !isIdentifierValid(scalar) { return nil }
        return normalized
    }

    /// The code points whose decomposition is tagged <wide> or <narrow> (Unicode Standard Annex #11): the
    /// ideographic space and the Halfwidth and Fullwidth Forms block.
    static func hasWidthDecomposition(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x3000, 0xFF01...0xFFEE: return true
        default: return false
        }
    }

    /// PVALID in the IdentifierClass: ASCII7 (U+0021...U+007E), or LetterDigits (Ll, Lu, Lo, Nd, Lm, Mn, Mc) that are
    /// neither ignorable nor compatibility characters (HasCompat: NFKC changes them).
    static func isIdentifierValid(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value >= 0x21 && scalar.value <= 0x7E { return true }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .lowercaseLetter, .uppercaseLetter, .otherLetter, .decimalNumber, .modifierLetter, .nonspacingMark, .spacingMark:
            break
        default:
            return false
        }
        if properties.isDefaultIgnorableCodePoint || properties.isNoncharacterCodePoint { return false }
        let single = String(scalar)
        return single.precomposedStringWithCompatibilityMapping == single
    }
}
