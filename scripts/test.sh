#!/usr/bin/env bash
# The whole test suite, as root (the BPF and integration tests load real programs and build a
# fake internet in a network namespace): the GitHub Action's own checks, a normal build, then an
# ASan+UBSan build, each running the unit, bpf, integration and security tests; then each
# libFuzzer target for a bounded time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: run as root (sudo scripts/test.sh): the bpf and integration tests need it" >&2
  exit 1
fi
scripts/install-deps.sh

run_suite() {
  local dir=$1
  (cd "$dir" && ctest --output-on-failure --timeout 300 -j2 -L 'unit|bpf|integration|security')
}

started=$SECONDS
phase() { echo "== $* [$((SECONDS - started)) s]"; }

phase "build (RelWithDebInfo)"
# Line tables only (-g1): backtraces keep file:line, and the build takes a third less time.
scripts/build.sh "$root/build" -DCGFW_BENCH=OFF -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"

phase "GitHub Action: dist/ rebuilt and compared, action.yml validated, JS tests"
CGFW_TOOL="$root/build/cgfw" scripts/test-action.sh
phase "tests (RelWithDebInfo)"
run_suite "$root/build"

phase "build with AddressSanitizer + UndefinedBehaviorSanitizer"
scripts/build.sh "$root/build-asan" -DCGFW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCGFW_BENCH=OFF \
  -DCMAKE_CXX_FLAGS_DEBUG=-g1
phase "tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite "$root/build-asan"

phase "fuzz (bounded)"
scripts/fuzz.sh "${CGFW_FUZZ_SECONDS:-20}"
phase "done"
