#!/usr/bin/env bash
# Installs the Debian 12 packages ketenhub needs to build, test and run.
# As root: apt-get installs what is missing. Otherwise: prints the exact line.
set -euo pipefail
pkgs=(build-essential pkg-config clang libclang-rt-14-dev clang-format clang-tidy cppcheck
      libzmq3-dev libjansson-dev libsqlite3-dev libsodium-dev libpcre2-dev
      libcurl4-openssl-dev libmicrohttpd-dev
      python3 python3-zmq python3-aiosmtpd sqlite3 faketime tzdata openssl
      chromium fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "ketenhub needs these Debian packages; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
