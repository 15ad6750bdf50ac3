#if FUZZING
import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

/// With -sanitize=fuzzer -DFUZZING: hands the command line to libFuzzer's driver, which calls
/// `LLVMFuzzerTestOneInput` (FuzzEntry.swift) for every input. SwiftPM links an executable's entry point as its
/// module's main, so libFuzzer's own `main` is not used.
@main
struct PoplarFuzzDriver {
    static func main() {
        var argc = CommandLine.argc
        // Safety: argv is the process's own argument vector, alive for the whole run; libFuzzer only reads it.
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzerTestOneInput))
    }
}
#endif
