#!/usr/bin/env bash
# The README's "run" command: installs the system libraries the build links (libnfs-dev for the NFS volume,
# libldap-dev and libpam0g-dev for the LDAP and PAM password backends) and openssl (poplar dev makes a self-signed
# certificate) when missing, then `swift run poplar dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in libnfs-dev libldap-dev libpam0g-dev openssl; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "run as root once to install ${missing[*]} (apt-get)" >&2; exit 2; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec swift run poplar dev "$@"
