import Foundation

/// SASLprep (RFC 4013, the stringprep profile SCRAM names for passwords, RFC 5802 §2.2): non-ASCII spaces become
/// U+0020, the characters "commonly mapped to nothing" go, the result is NFKC, and controls, private use,
/// non-characters, unassigned code points and the other prohibited ranges are refused. For an ASCII password without
/// controls it is the identity. Not implemented: the bidirectional check of RFC 3454 §6 (a password mixing
/// right-to-left and left-to-right letters is accepted as it is).
public enum SASLprep {
    /// The prepared string, or nil when it holds a prohibited character.
    public static func prepare(_ text: String) -> String? {
        var mapped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if mapsToNothing(scalar.value) { continue }
            mapped.append(isNonASCIISpace(scalar.value) ? " " : scalar)
        }
        let normalized = String(mapped).precomposedStringWithCompatibilityMapping
        for scalar in normalized.unicodeScalars where isProhibited(scalar) { return nil }
        return normalized
    }

    /// RFC 3454 table B.1.
    static func mapsToNothing(_ v: UInt32) -> Bool {
        switch v {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF: return true
        default: return false
        }
    }

    /// RFC 3454 table C.1.2.
    static func isNonASCIISpace(_ v: UInt32) -> Bool {
        switch v {
        case 0x00A0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// RFC 4013 §2.3 (tables C.1.2 to C.9) and §2.5 (unassigned code points, A.1).
    static func isProhibited(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        switch v {
        case 0x00...0x1F, 0x7F: return true                                            // C.2.1
        case 0x80...0x9F, 0x06DD, 0x070F, 0x180E, 0x200C, 0x200D, 0x2028, 0x2029,
             0x2060...0x2063, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC, 0x1D173...0x1D17A: return true  // C.2.2
        case 0xE000...0xF8FF, 0xF0000...0xFFFFD, 0x100000...0x10FFFD: return true    // C.3
        case 0xFDD0...0xFDEF: return true                                              // C.4
        case 0xFFFD: return true                                                       // C.6
        case 0x2FF0...0x2FFB: return true                                              // C.7
        case 0x0340, 0x0341, 0x200E, 0x200F, 0x202A...0x202E: return true             // C.8
        case 0xE0001, 0xE0020...0xE007F: return true                                   // C.9
        default: break
        }
        if v & 0xFFFE == 0xFFFE { return true }                                        // C.4: U+nFFFE, U+nFFFF
        if isNonASCIISpace(v) { return true }                                          // C.1.2
        return scalar.properties.generalCategory == .unassigned                        // A.1
    }
}
