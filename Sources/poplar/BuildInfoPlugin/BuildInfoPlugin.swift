import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` (the commit this binary is built from) before every build of `poplar`, for
/// `poplar --version`. The commit is `git rev-parse --short=12 HEAD` of the package, with `-dirty` when tracked
/// files differ from it; `POPLAR_COMMIT` in the environment wins (a build from a source tarball has no .git);
/// `unknown` when neither is there. The file is rewritten only when its text changes, so an unchanged commit
/// recompiles nothing.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let script = #"""
            set -u
            commit="${POPLAR_COMMIT:-}"
            if [ -z "$commit" ]; then
              commit=$(git -C "$1" rev-parse --short=12 HEAD 2>/dev/null) || commit=unknown
              if [ "$commit" != unknown ] && [ -n "$(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null | head -c1)" ]; then
                commit="$commit-dirty"
              fi
            fi
            commit=$(printf '%s' "$commit" | tr -cd 'A-Za-z0-9.+_-' | cut -c1-64)
            text="// Generated before each build by BuildInfoPlugin: the commit of this binary.
            enum BuildInfo { static let commit = \"$commit\" }"
            mkdir -p "$2"
            [ "$(cat "$2/BuildInfo.swift" 2>/dev/null)" = "$text" ] || printf '%s\n' "$text" > "$2/BuildInfo.swift"
            """#
        return [.prebuildCommand(
            displayName: "Commit of this build (BuildInfo.swift)",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: ["-c", script, "sh", context.package.directoryURL.path, output.path],
            outputFilesDirectory: output)]
    }
}
