#if !FUZZING
import FuzzTargets
import Foundation

/// Without `-DFUZZING` (the normal package build): replays inputs, so a crash file reproduces under a debugger
/// without the sanitizer build. `PoplarFuzz <target> <file or directory>...`, or `POPLAR_FUZZ_TARGET` and paths.
@main
struct PoplarFuzzReplay {
    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        let name: String
        if let env = ProcessInfo.processInfo.environment["POPLAR_FUZZ_TARGET"] {
            name = env
        } else if let first = args.first {
            name = first
            args.removeFirst()
        } else {
            print("usage: PoplarFuzz <target> <file or directory>...  (targets: \(FuzzRegistry.targets.map(\.name).joined(separator: " ")))")
            exit(2)
        }
        guard let run = FuzzRegistry.target(named: name) else {
            print("unknown target \(name); targets: \(FuzzRegistry.targets.map(\.name).joined(separator: " "))")
            exit(2)
        }
        var count = 0
        for path in args {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                print("no such file: \(path)")
                exit(2)
            }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                // stderr: unbuffered, so the last file named is the one that crashed.
                FileHandle.standardError.write(Data("replay \(name) \(file)\n".utf8))
                run(Array(data))
                count += 1
            }
        }
        print("\(count) inputs replayed through \(name), no crash")
    }
}
#endif
