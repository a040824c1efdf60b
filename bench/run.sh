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

echo "== E1 under load: cgfw_egress on a real TCP connection, 200k packets (bpf_stats, $reps rounds)"
# The packets of a connection allowed at connect() take the program's sticky path, which
# BPF_PROG_TEST_RUN (no socket) cannot reach. Loopback is policed (--no-loopback) so the full
# program runs; the receiver sits outside the sandbox.
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_before"; rmdir "$bare_cgroup" 2>/dev/null; rm -rf "$work"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
# What the statistics cost by themselves: the empty program, timed with them on.
"$build/bench/cgfw_bench_egress_cost" floor | tee -a "$results"
for round in $(seq "$reps"); do
  rm -f "$work/ready" "$work/sent"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
open(sys.argv[2], "w").close()
s.settimeout(30)
c, _ = s.accept()
while c.recv(1 << 16):
    pass
' "$port" "$work/ready" &
  receiver=$!
  for _ in $(seq 300); do [ -e "$work/ready" ] && break; sleep 0.01; done
  "$build/cgfw-sandbox" -q --no-loopback -a "127.0.0.1:$port" -- sh -c \
    "$build/bench/cgfw_bench_send_burst 127.0.0.1 $port 200000 >/dev/null && touch $work/sent && sleep 2" &
  sandbox=$!
  for _ in $(seq 3000); do [ -e "$work/sent" ] && break; sleep 0.01; done
  bpftool -j prog show name cgfw_egress | python3 -c '
import json, sys
programs = json.load(sys.stdin)
programs = programs if isinstance(programs, list) else [programs]
p = max(programs, key=lambda p: p["id"])  # the newest is this round
ns = p["run_time_ns"] / max(p["run_cnt"], 1)
print(json.dumps({"id": "E1", "what": "allow path under load (bpf_stats)", "rules": 1,
                  "packets": p["run_cnt"], "ns_per_packet": {"median": ns, "min": ns, "max": ns}}))
' | tee -a "$results"
  wait "$sandbox" "$receiver"
done
sysctl -qw kernel.bpf_stats_enabled="$stats_before"

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
