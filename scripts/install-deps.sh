#!/usr/bin/env bash
# Installs everything cgfw needs to build and test, from Debian's packages only. Idempotent: when
# every package is already there it does nothing (no apt-get update).
#
# --build-only: what building cgfw itself needs, nothing for the tests (the GitHub Action's
# build-from-source on a runner).
# --bench: also the peers and tools bench/run.sh measures against (docs/benchmarks.md). Their
# services are not started on install (policy-rc.d): the benchmarks run their own instances.
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
  # systemd-analyze verify: the shipped units (packaging/systemd/)
  systemd
  # the GitHub Action (action/, dist/): node and npm
  nodejs
  # the container tests (tests/integration/container_test.cpp): a real OCI runtime
  runc
)

bench_packages=(
  # peers: nftables set allow list, DNS forwarders, TLS interceptors
  nftables dnsmasq-base unbound dnsdist sslsplit
  # load generators and plots
  wrk dnsperf python3-matplotlib python3-pip time
)

mode=${1:-}
if [ "$mode" != "--build-only" ]; then
  packages+=("${test_packages[@]}")
fi
if [ "$mode" = "--bench" ]; then
  packages+=("${bench_packages[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
# Debian packages npm apart from nodejs; other node distributions (NodeSource) bundle it and
# conflict with Debian's npm package.
if [ "$mode" != "--build-only" ]; then
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
# Keep Debian from starting the daemons it installs (unbound, dnsdist, squid, nginx would take
# ports 53/80/3128 on this machine); an existing policy-rc.d is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
