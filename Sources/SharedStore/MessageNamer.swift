import Foundation
import Synchronization

/// Makes the 26-digit message names (the UIDLs): UTC `yyyyMMddHHmmssSSS`, a 5-digit slot random per process, a
/// 4-digit counter per millisecond (the seed's 10,000 messages per millisecond). Strictly increasing within a
/// process even if the clock steps back. The store claims the slot (`MailStore.messageNamer()`), so names are
/// unique in the whole mail root; `link()` at delivery enforces it inside a mailbox in any case.
public final class MessageNamer: Sendable {
    private struct State {
        var lastMillis: Int64 = 0
        var counter = 0
    }

    private let slot: Int
    private let clock: @Sendable () -> Int64
    private let state = Mutex(State())

    public init(slot: Int = Int.random(in: 0...99_999), clock: @escaping @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }) {
        self.slot = slot % 100_000
        self.clock = clock
    }

    public func next() -> String {
        let (millis, counter) = state.withLock { s -> (Int64, Int) in
            var now = max(clock(), s.lastMillis)
            if now == s.lastMillis {
                s.counter += 1
                if s.counter > 9999 {
                    // Ten thousand in one millisecond: move on to the next millisecond.
                    now = s.lastMillis + 1
                    s.counter = 0
                }
            } else {
                s.counter = 0
            }
            s.lastMillis = now
            return (now, s.counter)
        }
        return Self.timestamp(millis) + Self.pad(slot, 5) + Self.pad(counter, 4)
    }

    /// RFC 1939 §7: a UIDL is 1 to 70 characters in 0x21-0x7E. A UIDL kept from another server must be one.
    public static let maxKeptUIDLLength = 70

    public static func isValidUIDL(_ uidl: String) -> Bool {
        let bytes = uidl.utf8
        return !bytes.isEmpty && bytes.count <= maxKeptUIDLLength && bytes.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    /// The file name of a message: `P3_<26 digits>.eml`, whose UIDL is the digits, or, for a message imported with
    /// the UIDL another server gave it, `P3_<26 digits>.u<lowercase hex of the UIDL's bytes>.eml` (at most 175 bytes).
    /// The digits stay the arrival order either way (docs/store-layout.md).
    public static func messageName(stamp: String, keptUIDL: String? = nil) -> String {
        guard let keptUIDL else { return "P3_\(stamp).eml" }
        precondition(isValidUIDL(keptUIDL), "a kept UIDL is validated before it is named")
        let hex = keptUIDL.utf8.map { b -> String in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined()
        return "P3_\(stamp).u\(hex).eml"
    }

    public static func isMessageName(_ name: String) -> Bool {
        guard name.utf8.count >= 33, name.hasPrefix("P3_"), name.hasSuffix(".eml"),
            name.utf8.dropFirst(3).prefix(26).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
        return name.utf8.count == 33 || keptUIDL(ofMessageName: name) != nil
    }

    /// The UIDL a client sees: the kept one of an imported message, else the 26 digits.
    public static func uidl(ofMessageName name: String) -> String {
        keptUIDL(ofMessageName: name) ?? String(name.dropFirst(3).prefix(26))
    }

    /// The UIDL kept from another server (`P3_<26 digits>.u<hex>.eml`), or nil for any other name: the hex must be
    /// lowercase, of even length, and decode to a valid UIDL (`isValidUIDL`).
    public static func keptUIDL(ofMessageName name: String) -> String? {
        let bytes = Array(name.utf8)
        // "P3_" + 26 digits + ".u" + 2...140 hex + ".eml"
        guard bytes.count >= 3 + 26 + 2 + 2 + 4, bytes.count <= 3 + 26 + 2 + 2 * maxKeptUIDLLength + 4,
            bytes[29] == 0x2E, bytes[30] == 0x75, name.hasPrefix("P3_"), name.hasSuffix(".eml") else { return nil }
        let hex = bytes[31..<(bytes.count - 4)]
        guard hex.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(hex.count / 2)
        var high: UInt8?
        for c in hex {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        guard out.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// The 26 digits of a message name (its place in arrival order).
    public static func stamp(ofMessageName name: String) -> String {
        String(name.dropFirst(3).prefix(26))
    }

    static func timestamp(_ millis: Int64) -> String {
        var t = time_t(millis / 1000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return pad(Int(tmv.tm_year) + 1900, 4) + pad(Int(tmv.tm_mon) + 1, 2) + pad(Int(tmv.tm_mday), 2)
            + pad(Int(tmv.tm_hour), 2) + pad(Int(tmv.tm_min), 2) + pad(Int(tmv.tm_sec), 2) + pad(Int(millis % 1000), 3)
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
