#!/usr/bin/env bash
# deps.sh — make sure the Debian packages in tools/deps.txt are installed.
#
# Asks dpkg-query which are missing. As root, installs them with apt-get
# (non-interactive, works without stdin, e.g. in CI); otherwise prints the
# exact `sudo apt-get install` line and fails. On a system without dpkg it
# only prints the list and succeeds: there the packages are the user's job.
#
# Usage: tools/deps.sh [LIST]    (LIST defaults to tools/deps.txt)
set -euo pipefail

list=${1:-$(dirname "$0")/deps.txt}

# The package names: drop comments and blank lines.
mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: no dpkg-query here (not Debian?); make sure you have: ${pkgs[*]}" >&2
    exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#pkgs[@]} packages installed"
    exit 0
fi

echo "deps: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: not root; install them with:" >&2
    echo "sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# A failed update (e.g. one unreachable mirror) need not stop the install.
apt-get update </dev/null || echo "deps: apt-get update failed; trying the install anyway" >&2
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
echo "deps: installed ${missing[*]}"
