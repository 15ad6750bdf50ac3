import Foundation
import TestSupport
import XCTest

import FuzzTargets

/// What CI runs of the fuzzing (docs/fuzzing.md): every seed corpus and every crash input (kept after its fix as a
/// regression input) through its target, then seeded random inputs (mutations of the corpus and plain noise) per
/// target. A crash here is a bug found before; the real fuzzing is Tests/Fuzz/run-fuzz.sh.
final class FuzzReplayTests: XCTestCase {
    /// Random inputs per target: quick in a debug build (the whole class well under 30 s).
    static let randomInputsPerTarget = 3000

    static var fuzzRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")
    }

    static func inputs(_ kind: String, _ target: String) -> [(String, [UInt8])] {
        let dir = fuzzRoot.appendingPathComponent(kind).appendingPathComponent(target)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.compactMap { name in
            FileManager.default.contents(atPath: dir.appendingPathComponent(name).path).map { ("\(kind)/\(target)/\(name)", Array($0)) }
        }
    }

    func testEveryTargetHasASeedCorpus() {
        for (name, _) in FuzzRegistry.targets {
            XCTAssertFalse(Self.inputs("Corpus", name).isEmpty, "no seed corpus for \(name) in Tests/Fuzz/Corpus/\(name)")
        }
    }

    func testCorpusAndCrashInputsReplay() {
        var replayed = 0
        for (name, run) in FuzzRegistry.targets {
            for (_, bytes) in Self.inputs("Corpus", name) + Self.inputs("Crashes", name) {
                run(bytes)
                replayed += 1
            }
        }
        XCTAssertGreaterThan(replayed, 0)
    }

    func testSeededRandomInputs() {
        for (name, run) in FuzzRegistry.targets {
            var rng = SplitMix64(seed: 0x504F_504C_4152 ^ UInt64(truncatingIfNeeded: name.hashValueStable))
            let seeds = Self.inputs("Corpus", name).map(\.1)
            for i in 0..<Self.randomInputsPerTarget {
                let input: [UInt8]
                if !seeds.isEmpty && i % 4 != 0 {
                    input = Self.mutate(seeds[Int(rng.next() % UInt64(seeds.count))], &rng)
                } else {
                    input = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                }
                run(input)
            }
        }
    }

    /// A few libFuzzer-like mutations: flip, insert, delete, duplicate a run, splice interesting bytes.
    static func mutate(_ seed: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = seed
        let interesting: [UInt8] = [0x00, 0x0A, 0x0D, 0x20, 0x2E, 0x3A, 0x2C, 0x3D, 0x7F, 0x80, 0xFF, 0x30, 0x39]
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            let pos = b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count))
            switch rng.next() % 6 {
            case 0 where !b.isEmpty: b[pos] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8))
            case 1: b.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: pos)
            case 2 where !b.isEmpty: b.remove(at: pos)
            case 3 where !b.isEmpty:
                let n = min(b.count - pos, 1 + Int(rng.next() % 32))
                b.insert(contentsOf: b[pos..<(pos + n)], at: pos)
            case 4 where !b.isEmpty: b[pos] = UInt8(truncatingIfNeeded: rng.next())
            default: b += [UInt8](repeating: interesting[Int(rng.next() % UInt64(interesting.count))], count: Int(rng.next() % 300))
            }
        }
        return b
    }
}

extension String {
    /// FNV-1a: `hashValue` is seeded per process, this is not.
    var hashValueStable: UInt64 {
        utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
