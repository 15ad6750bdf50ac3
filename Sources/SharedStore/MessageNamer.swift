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

    public static func isMessageName(_ name: String) -> Bool {
        name.utf8.count == 33 && name.hasPrefix("P3_") && name.hasSuffix(".eml")
            && name.utf8.dropFirst(3).prefix(26).allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    public static func uidl(ofMessageName name: String) -> String {
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
