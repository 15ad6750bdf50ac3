import ArgumentParser
import Foundation

/// A configuration that cannot be used (a file's unknown key or wrong type, an impossible value from a flag, the
/// environment or the file): every mistake printed, exit 78 (EX_CONFIG, sysexits.h), so that systemd and scripts
/// tell it from a failure at run time.
struct ConfigurationRefused: Error, CustomStringConvertible {
    static let exitCode: Int32 = 78
    var problems: [String]
    init(_ problems: [String]) { self.problems = problems }
    var description: String { problems.joined(separator: "\n") }

    /// Runs `body`; a refusal or a `UserError` from it is printed and becomes exit 78.
    static func guarding<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refused as ConfigurationRefused {
            for line in refused.problems { FileHandle.standardError.write(Data("poplar: \(line)\n".utf8)) }
            throw ExitCode(exitCode)
        } catch let error as UserError {
            FileHandle.standardError.write(Data("poplar: configuration: \(error.description)\n".utf8))
            throw ExitCode(exitCode)
        }
    }
}
