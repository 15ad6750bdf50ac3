import FuzzTargets

#if canImport(Glibc)
import Glibc
#endif

/// The target named by `POPLAR_FUZZ_TARGET`, read once (the first input).
let selectedTarget: @Sendable ([UInt8]) -> Void = {
    guard let raw = getenv("POPLAR_FUZZ_TARGET") else {
        print("set POPLAR_FUZZ_TARGET to one of: \(FuzzRegistry.targets.map(\.name).joined(separator: " "))")
        exit(2)
    }
    let name = String(cString: raw)
    guard let run = FuzzRegistry.target(named: name) else {
        print("unknown POPLAR_FUZZ_TARGET \(name); targets: \(FuzzRegistry.targets.map(\.name).joined(separator: " "))")
        exit(2)
    }
    return run
}()

/// libFuzzer's entry point (built with `-sanitize=fuzzer -DFUZZING`; also present in the replayer build, unused).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    // Safety: libFuzzer passes `count` readable bytes at `start` (or count 0), valid for this call; they are copied.
    let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    selectedTarget(bytes)
    return 0
}
