#!/usr/bin/env bash
# E1, E3, C1, W2 (docs/benchmarks.md): the egress program per packet (floor, allow, deny, 10 / 1k /
# 100k rules, and under a real load), connect() cost, and `cgfw-sandbox -- true` end to end.
# Usage: bench/ebpf.sh BUILD_DIR WORK_DIR (bench/run.sh calls it); JSON lines on stdout.
set -euo pipefail
build=$1
work=$2
reps=${CGFW_BENCH_REPS:-5}

now_ns() { date +%s%N; }

echo "== E1, E3: the egress program per packet (BPF_PROG_TEST_RUN, 1M repeats, 5 rounds)" >&2
"$build/bench/cgfw_bench_egress_cost"

# "Bare" runs in an empty cgroup beside the sandbox's (under the cgroup2 root, where cgfw makes
# its own), not in this shell's: that one may inherit other programs (systemd's) that the
# sandbox's position does not, which would make cgfw look cheaper than free.
cgroup2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
bare_cgroup="$cgroup2/cgfw-bench-bare-$$"
mkdir "$bare_cgroup"
trap 'rmdir "$bare_cgroup" 2>/dev/null' EXIT
in_bare_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$bare_cgroup" "$@"; }

echo "== E1 under load: cgfw_egress on a real TCP connection, 200k packets (bpf_stats, $reps rounds)" >&2
# The packets of a connection allowed at connect() take the program's sticky path, which
# BPF_PROG_TEST_RUN (no socket) cannot reach. Loopback is policed (--no-loopback) so the full
# program runs; the receiver sits outside the sandbox.
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_before"; rmdir "$bare_cgroup" 2>/dev/null' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
# What the statistics cost by themselves: the empty program, timed with them on.
"$build/bench/cgfw_bench_egress_cost" floor
for round in $(seq "$reps"); do
  rm -f "$work/ready" "$work/sent"
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  /usr/bin/python3 -c '
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
  bpftool -j prog show name cgfw_egress | /usr/bin/python3 -c '
import json, sys
programs = json.load(sys.stdin)
programs = programs if isinstance(programs, list) else [programs]
p = max(programs, key=lambda p: p["id"])  # the newest is this round
ns = p["run_time_ns"] / max(p["run_cnt"], 1)
print(json.dumps({"id": "E1", "what": "allow path under load (bpf_stats)", "unit": "ns/packet",
                  "value": ns}))
'
  wait "$sandbox" "$receiver"
done
sysctl -qw kernel.bpf_stats_enabled="$stats_before"

echo "== C1: connect() to loopback, bare and in the sandbox, interleaved ($reps rounds)" >&2
for round in $(seq "$reps"); do
  in_bare_cgroup "$build/bench/cgfw_bench_connect_latency" 20000 bare
  "$build/cgfw-sandbox" -q -- "$build/bench/cgfw_bench_connect_latency" 20000 "in the sandbox"
done

echo "== W2: cgfw-sandbox -- true, end to end, against bare true, interleaved ($reps rounds)" >&2
for round in $(seq "$reps"); do
  start=$(now_ns); /bin/true; bare=$(($(now_ns) - start))
  start=$(now_ns); "$build/cgfw-sandbox" -q -- /bin/true; sandbox=$(($(now_ns) - start))
  printf '{"id":"W2","what":"bare true","unit":"ms","value":%s}\n' \
    "$(echo "scale=2; $bare/1000000" | bc)"
  printf '{"id":"W2","what":"cgfw-sandbox -- true","unit":"ms","value":%s}\n' \
    "$(echo "scale=2; $sandbox/1000000" | bc)"
done

