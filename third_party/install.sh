#!/usr/bin/env bash
# Installs the Debian packages the project builds and tests with, only those missing.
# Idempotent: a second run does nothing. See third_party/README.md for why each is needed.
set -euo pipefail
packages=(cmake g++ make libeigen3-dev nlohmann-json3-dev doctest-dev fortunes)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "third_party/install.sh: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
