#!/usr/bin/env bash
# Installs everything cgfw needs to build and test, from Debian's packages only. Idempotent: when
# every package is already there it does nothing (no apt-get update).
#
# --build-only: what building cgfw itself needs, nothing for the tests (the GitHub Action's
# build-from-source on a runner).
set -euo pipefail

packages=(
  # build
  cmake make g++ clang llvm pkg-config
  # kernel side: libbpf + bpftool gen skeleton
  libbpf-dev bpftool libelf-dev zlib1g-dev
  # user side
  libssl-dev libc-ares-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libidn2-dev libpsl-dev
  libasio-dev libhttp-parser-dev
)
test_packages=(
  # tests (libclang-rt: libFuzzer)
  libclang-rt-14-dev libgtest-dev libgmock-dev python3 python3-jsonschema iproute2 curl netcat-openbsd iputils-ping
  dnsutils openssl nginx-light git wget
  procps
  # the GitHub Action (action/, dist/): node and npm
  nodejs
)

if [ "${1:-}" != "--build-only" ]; then
  packages+=("${test_packages[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
# Debian packages npm apart from nodejs; other node distributions (NodeSource) bundle it and
# conflict with Debian's npm package.
if [ "${1:-}" != "--build-only" ]; then
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (sudo) to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
