/// Comparison of secrets (password hashes, MACs, tokens) whose time does not depend on where they first differ.
/// Lengths are public (hashes and tokens have fixed lengths). POP3Core, which depends on no other Poplar module, keeps
/// its own loop for SCRAM's proof.
public enum ConstantTime {
    public static func equal<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }

    public static func equal(_ a: String, _ b: String) -> Bool { equal(a.utf8, b.utf8) }
}
