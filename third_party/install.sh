#!/usr/bin/env bash
# Installs the Debian packages the project builds and tests with, only those missing.
# Idempotent: a second run installs nothing. Fails (exit 1, saying what to do) when the cmake on
# PATH is older than the 3.25 the build needs. See third_party/README.md for why each is needed.
#   third_party/install.sh                    the build's packages
#   third_party/install.sh --tools T...       test-only tools, asked for by the test scripts
#                                             (never needed to build or run dasg):
#       mpi      openmpi-bin (mpirun; tests/dist.sh)
#       browser  chromium-headless-shell (tests/browser_check.sh)
#       fuzz     clang, libclang-rt-14-dev (libFuzzer; tests/fuzz.sh)
set -euo pipefail

# Installs those of the named packages that are missing (apt-get update first).
install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "third_party/install.sh: installing ${missing[*]}" >&2
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}

if [ "${1:-}" = --tools ]; then
  shift
  packages=()
  for t in "$@"; do
    case "$t" in
      mpi) packages+=(openmpi-bin) ;;
      browser) packages+=(chromium-headless-shell) ;;
      fuzz) packages+=(clang libclang-rt-14-dev) ;;
      *) echo "third_party/install.sh: unknown test tool '$t'; expected mpi, browser or fuzz" >&2; exit 2 ;;
    esac
  done
  install_missing "${packages[@]}"
  exit 0
fi

install_missing cmake g++ make libeigen3-dev nlohmann-json3-dev doctest-dev fortunes libopenmpi-dev

# The build needs CMake >= 3.25 (CMakeLists.txt: cmake_minimum_required). An older cmake may be
# installed already (the Debian package of an older release, or one from elsewhere on PATH), and
# installing the package does not replace it; say so instead of failing later in the configure.
need=3.25
have=$(cmake --version 2>/dev/null | sed -n 's/^cmake version \([0-9][0-9.]*\).*/\1/p')
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
  echo "third_party/install.sh: CMake ${have:-(none)} at $(command -v cmake || echo '(not on PATH)') is older than" \
       "the $need this build needs. Install a newer one, e.g. Debian 12's package (cmake 3.25)," \
       "bullseye-backports (apt-get install -t bullseye-backports cmake), Kitware's APT repository" \
       "(apt.kitware.com), or 'pip install cmake' and put it first on PATH; then run this again." >&2
  exit 1
fi
