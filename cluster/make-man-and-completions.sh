#!/bin/bash
# Man pages and shell completions, generated from poplar's argument parser (swift-argument-parser's own
# generate-manual plugin and --generate-completion-script): OUT/man1/poplar*.1 and OUT/completions/{poplar.bash,
# _poplar, poplar.fish}. Usage: cluster/make-man-and-completions.sh [OUT]   (default: dist). Builds in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-dist}")
mkdir -p "$out/man1" "$out/completions"
swift package --allow-writing-to-package-directory generate-manual --multi-page --output-directory "$out/man1"
bin="$(swift build -c release --show-bin-path)/poplar"
"$bin" --generate-completion-script bash > "$out/completions/poplar.bash"
"$bin" --generate-completion-script zsh > "$out/completions/_poplar"
"$bin" --generate-completion-script fish > "$out/completions/poplar.fish"
echo "man pages: $(ls "$out/man1" | wc -l) in $out/man1; completions in $out/completions"
