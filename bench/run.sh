#!/usr/bin/env bash
# cgfw's benchmarks (docs/benchmarks.md). Measures, never asserts: each figure is printed next to
# its target so a regression is visible. Writes bench/results/latest.json (one object per
# measurement) and bench/results/latest.md.
#
# Measured so far: E1 (egress program ns/packet, allow and deny paths, and an empty program as
# the floor), E3 (10 / 1k / 100k rules: load time, ns/packet), C1 (connect() with and without the
# sandbox, interleaved), W2 (`cgfw-sandbox -- true` end to end against bare `true`, interleaved).
# The peers' side (nftables, dnsmasq, sslsplit, squid, ...) is not written yet.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/run.sh: run as root: it loads BPF programs and creates cgroups" >&2
  exit 1
fi
reps=${CGFW_BENCH_REPS:-5}
build=${CGFW_BENCH_BUILD:-$root/build}
scripts/install-deps.sh
scripts/build.sh "$build" >/dev/null

# Work on /dev/shm: the root disk is slow.
work=$(mktemp -d /dev/shm/cgfw-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
results="$work/results.jsonl"
: >"$results"

now_ns() { date +%s%N; }

echo "== E1, E3: the egress program per packet (BPF_PROG_TEST_RUN, 1M repeats, 5 rounds)"
"$build/bench/cgfw_bench_egress_cost" | tee -a "$results"

# "Bare" runs in an empty cgroup beside the sandbox's (under the cgroup2 root, where cgfw makes
# its own), not in this shell's: that one may inherit other programs (systemd's) that the
# sandbox's position does not, which would make cgfw look cheaper than free.
cgroup2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
bare_cgroup="$cgroup2/cgfw-bench-bare-$$"
mkdir "$bare_cgroup"
trap 'rmdir "$bare_cgroup" 2>/dev/null; rm -rf "$work"' EXIT
in_bare_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$bare_cgroup" "$@"; }

echo "== C1: connect() to loopback, bare and in the sandbox, interleaved ($reps rounds)"
for round in $(seq "$reps"); do
  in_bare_cgroup "$build/bench/cgfw_bench_connect_latency" 20000 bare | tee -a "$results"
  "$build/cgfw-sandbox" -q -- "$build/bench/cgfw_bench_connect_latency" 20000 sandbox |
    tee -a "$results"
done

echo "== W2: cgfw-sandbox -- true, end to end, against bare true, interleaved ($reps rounds)"
for round in $(seq "$reps"); do
  start=$(now_ns); /bin/true; bare=$(($(now_ns) - start))
  start=$(now_ns); "$build/cgfw-sandbox" -q -- /bin/true; sandbox=$(($(now_ns) - start))
  printf '{"id":"W2","what":"bare true","ms":%s}\n' "$(echo "scale=2; $bare/1000000" | bc)" |
    tee -a "$results"
  printf '{"id":"W2","what":"cgfw-sandbox -- true","ms":%s}\n' \
    "$(echo "scale=2; $sandbox/1000000" | bc)" | tee -a "$results"
done

mkdir -p bench/results
python3 bench/summarize.py "$results" bench/results/latest.json bench/results/latest.md
cat bench/results/latest.md
