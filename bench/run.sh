#!/usr/bin/env bash
# cgfw's benchmarks against the peers a user would otherwise pick (docs/benchmarks.md). Measures,
# never asserts: each figure is printed next to its target so a regression is visible.
#
# Usage: sudo bench/run.sh [GROUP...]    GROUP: ebpf e2 dns tls workload (default: all)
# Env: CGFW_BENCH_REPS (rounds, default 5), CGFW_BENCH_BUILD (build directory, default build/).
#
# Installs the peers from Debian (scripts/install-deps.sh --bench), builds cgfw, runs each group
# (bench/GROUP.sh BUILD WORK prints one JSON line per measurement and round), then writes
# bench/results/GROUP.jsonl, then latest.json, latest.md and the plots (bench/plot.py) from every
# group's last run. Work files go to /dev/shm.
# Traffic stays on loopback and in the network namespace the groups create.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/run.sh: run as root: it loads BPF programs, creates cgroups and a network namespace" >&2
  exit 1
fi
groups=("$@")
[ "${#groups[@]}" -gt 0 ] || groups=(ebpf e2 dns tls workload)
for group in "${groups[@]}"; do
  [ -x "bench/$group.sh" ] || { echo "bench/run.sh: no group '$group'" >&2; exit 2; }
done
build=${CGFW_BENCH_BUILD:-$root/build}
started=$(date +%s)
scripts/install-deps.sh --bench
scripts/build.sh "$build" -DCGFW_BENCH=ON >/dev/null

work=$(mktemp -d /dev/shm/cgfw-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
for group in "${groups[@]}"; do
  group_started=$(date +%s)
  mkdir -p "$work/$group"
  # Each line is a measurement; print it as it comes so a long run shows progress.
  "bench/$group.sh" "$build" "$work/$group" | tee "$work/$group.jsonl"
  mv "$work/$group.jsonl" "bench/results/$group.jsonl"
  echo "== $group: $(($(date +%s) - group_started)) s" >&2
done

# A group not run this time keeps its last measurements (bench/results/GROUP.jsonl).
cat bench/results/{ebpf,e2,dns,tls,workload}.jsonl 2>/dev/null >"$work/all.jsonl" || true
/usr/bin/python3 bench/summarize.py "$work/all.jsonl" bench/results/latest.json \
  bench/results/latest.md
/usr/bin/python3 bench/plot.py bench/results/latest.json bench/results
cat bench/results/latest.md
echo "bench/run.sh: $(($(date +%s) - started)) s" >&2
