#!/bin/bash
# Builds poplar_VERSION_ARCH.deb with dpkg-deb: /usr/bin/poplar, the two systemd units, man pages, bash/zsh/fish
# completions, the example configurations, /etc/poplar (0750 root:poplar, set by postinst), the poplar system user.
#
# Usage: cluster/deb/build-deb.sh [--binary PATH] [--version V] [--out DIR] [--compression xz|gzip|zstd]
#   --binary  the poplar binary to package. Without it, a release binary is built here with the Swift runtime
#             and Foundation linked statically (swift build -c release --static-swift-stdlib, into
#             .build-release/static): the only kind of binary to give to other machines. A binary linked
#             dynamically against /opt/swift (a debug build) makes a package that works only where that
#             toolchain is installed; the script says so.
#   --version the package's version; default: `git describe --tags` when the tree has a tag, else the binary's
#             own (`poplar --version`), made a valid Debian version.
#   --out     where the .deb goes (default: dist). It prints the .deb's path on its last line.
#   --compression  dpkg-deb's (default xz; gzip takes 4 s where xz takes 34 s on a stripped debug binary, for tests).
# Needs dpkg-deb and dpkg-shlibdeps (dpkg-dev; without it Depends comes from ldd and dpkg -S, unversioned),
# strip (binutils), python3 for the man pages, and no root (dpkg-deb --root-owner-group).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

binary="" version="" out="dist" compression="xz"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --compression) compression=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ -z "$binary" ]; then
  echo "== building a release binary, Swift runtime linked statically (.build-release/static)" >&2
  (cd "$top" && swift build -c release --static-swift-stdlib --scratch-path .build-release/static --product poplar >&2)
  binary="$top/.build-release/static/release/poplar"
fi
[ -x "$binary" ] || { echo "build-deb.sh: $binary is not an executable" >&2; exit 2; }
binary=$(realpath "$binary")

if [ -z "$version" ]; then
  if tag=$(git -C "$top" describe --tags 2>/dev/null); then
    version=$tag
  else
    version=$("$binary" --version | awk '{print $2}')
  fi
fi
# Debian: digits first; only [A-Za-z0-9.+~]; v1.2.3-4-gabc (git describe) becomes 1.2.3+4.gabc.
version=$(printf '%s' "$version" | sed -E 's/^[vV]//; s/-([0-9]+)-g([0-9a-f]+)$/+\1.g\2/; s/-/+/g; s/[^A-Za-z0-9.+~]/./g')
[[ "$version" =~ ^[0-9] ]] || { echo "build-deb.sh: version '$version' does not start with a digit (use --version)" >&2; exit 2; }

arch=$(dpkg --print-architecture)
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d "${TMPDIR:-/tmp}/poplar-deb-XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg="$work/poplar_${version}_${arch}"

install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/usr/share/man/man1" \
  "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
  "$pkg/usr/share/fish/vendor_completions.d" "$pkg/usr/share/doc/poplar/examples"
install -d -m 0750 "$pkg/etc/poplar"

# The binary, stripped as dh_strip does (a debug build shrinks to about half).
strip --strip-unneeded -o "$pkg/usr/bin/poplar" "$binary"
chmod 0755 "$pkg/usr/bin/poplar"
if ldd "$pkg/usr/bin/poplar" | grep 'libswiftCore\.so' >/dev/null; then  # no -q: ldd would get SIGPIPE (pipefail)
  echo "build-deb.sh: warning: $binary loads the Swift runtime from $(ldd "$pkg/usr/bin/poplar" | awk '/libswiftCore/ {print $3}');" \
       "this package works only where that toolchain is installed (build without --binary for one to distribute)" >&2
fi

install -m 0644 "$top/cluster/poplar-node.service" "$top/cluster/poplar-coordinator.service" "$pkg/lib/systemd/system/"

# Man pages from the binary's own description of its commands (no release build of generate-manual).
python3 "$here/man-from-dump-help.py" "$pkg/usr/bin/poplar" "$pkg/usr/share/man/man1" --version "$version" >&2
gzip -9n "$pkg"/usr/share/man/man1/*.1
chmod 0644 "$pkg"/usr/share/man/man1/*.gz

"$pkg/usr/bin/poplar" --generate-completion-script bash > "$pkg/usr/share/bash-completion/completions/poplar"
"$pkg/usr/bin/poplar" --generate-completion-script zsh > "$pkg/usr/share/zsh/vendor-completions/_poplar"
"$pkg/usr/bin/poplar" --generate-completion-script fish > "$pkg/usr/share/fish/vendor_completions.d/poplar.fish"

install -m 0644 "$top/cluster/node.json.example" "$top/cluster/coordinator.json.example" "$pkg/usr/share/doc/poplar/examples/"
install -m 0644 "$here/copyright" "$pkg/usr/share/doc/poplar/copyright"

# Depends from the shared libraries the binary loads: dpkg-shlibdeps reads the packages' shlibs/symbols files.
# Libraries no package owns (the Swift runtime of a dynamically linked build) are left out.
depends=""
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
  mkdir -p "$work/src/debian"
  printf 'Source: poplar\n\nPackage: poplar\nArchitecture: any\n' > "$work/src/debian/control"
  if line=$(cd "$work/src" && dpkg-shlibdeps -O --ignore-missing-info -e"$pkg/usr/bin/poplar" 2>"$work/shlibdeps.err"); then
    depends=$(printf '%s\n' "$line" | sed -n 's/^shlibs:Depends=//p')
  else
    cat "$work/shlibdeps.err" >&2
  fi
fi
if [ -z "$depends" ]; then
  # The libraries the binary names itself (NEEDED), found where ldd finds them, owned by which package.
  needed=$(readelf -d "$pkg/usr/bin/poplar" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
  depends=$(ldd "$pkg/usr/bin/poplar" | awk 'NR==FNR {want[$1]=1; next} ($1 in want) && $3 ~ /^\// {print $3}' \
      <(printf '%s\n' "$needed") - | while read -r lib; do
      dpkg -S "$(realpath "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
    done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
fi
depends="adduser${depends:+, $depends}"

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<EOF
Package: poplar
Version: $version
Architecture: $arch
Maintainer: Poplar maintainers <maintainers@users.noreply.r-seed-a08e2c7a.example>
Installed-Size: $size
Depends: $depends
Recommends: systemd
Section: mail
Priority: optional
Description: clustered POP3 mail service over one shared mail root
 Poplar serves POP3 (RFC 1939, STLS, POP3S, SASL, SCRAM) from several stateless
 nodes over one mail root on a local disk, a mounted share or an NFSv3 export
 reached with libnfs. A mailbox is made exclusive across the nodes by an atomic
 rename of its lock file, with a lease, so a dead node's mailboxes are served
 elsewhere. A coordinator delivers inbound mail over LMTP and SMTP behind
 Postfix. This package has the poplar binary (nodes, coordinator and admin
 CLI), hardened systemd units, man pages and shell completions.
EOF
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$pkg/DEBIAN/"
# /etc/poplar is the administrator's: keep it on remove (dpkg removes an empty directory it owns only on purge).
(cd "$pkg" && find usr lib -type f -exec md5sum {} + | sort -k2) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"

deb="$out/poplar_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$pkg" "$deb" >&2
echo "$deb"
