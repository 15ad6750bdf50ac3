import ArgumentParser
import Configuration
import Foundation

/// `poplar config check [FILE]`: validates a configuration file as a node and a coordinator would read it (every
/// key known and of its type, every value possible) and prints every key's value with where it came from: the
/// environment, the file, or the default.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check a configuration file.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file (exit 78 on a mistake) and print every key's value, with its source.")
        @Argument(help: "The JSON file (default: --config or POPLAR_CONFIG).") var file: String?
        @OptionGroup var common: CommonOptions

        func run() async throws {
            var common = self.common
            if let file { common.config = file }
            guard let path = common.config ?? ProcessInfo.processInfo.environment["POPLAR_CONFIG"] else {
                throw UserError("name the configuration file: poplar config check FILE")
            }
            let reader = try await common.reader()
            // Impossible values, as the node and the coordinator would refuse them at start.
            _ = try await ConfigurationRefused.guarding { try NodeOptions.parse([]).configuration(reader) }
            _ = try await ConfigurationRefused.guarding { try CoordinatorOptions.parse([]).configuration(reader) }
            let json = (try? JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: path) ?? Data())) as? [String: Any] ?? [:]
            let inFile = Self.flatten(json)
            let environment = ProcessInfo.processInfo.environment
            print("\(path): valid")
            for key in ConfigSchema.keys.keys.sorted() {
                let variable = "POPLAR_" + key.uppercased().replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: "-", with: "_")
                if let value = environment[variable] {
                    print("\(key) = \(value)  (environment \(variable)\(inFile[key] != nil ? ", over the file" : ""))")
                } else if let value = inFile[key] {
                    print("\(key) = \(value)  (file)")
                } else {
                    print("\(key) = \(ConfigSchema.defaults[key] ?? "none")  (default)")
                }
            }
            print("a command-line flag given to poplar node or poplar coordinator wins over all of these")
        }

        static func flatten(_ object: [String: Any], prefix: String = "") -> [String: String] {
            var out: [String: String] = [:]
            for (name, value) in object {
                let key = prefix.isEmpty ? name : prefix + "." + name
                if let nested = value as? [String: Any], ConfigSchema.keys[key] == nil {
                    out.merge(flatten(nested, prefix: key)) { a, _ in a }
                } else if let list = value as? [Any] {
                    out[key] = "[" + list.map { "\($0)" }.joined(separator: ", ") + "]"
                } else {
                    out[key] = ConfigSchema.isBoolean(value) ? ((value as? NSNumber)?.boolValue == true ? "true" : "false") : "\(value)"
                }
            }
            return out
        }
    }
}
