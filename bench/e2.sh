#!/usr/bin/env bash
# E2 (docs/benchmarks.md): packets/s and request/response rate through the sandbox on its
# IP-allowed path, against no sandbox and against an nftables set allow list, on loopback.
#
# Usage: bench/e2.sh BUILD_DIR WORK_DIR (as root; CGFW_BENCH_REPS rounds, default 5). BUILD_DIR
# holds cgfw-sandbox and bench/cgfw_bench_packet_rate (CGFW_BENCH_PACKET_RATE overrides the
# latter). Prints only JSON lines on stdout, one per measurement per round,
# {"id":"E2","what":...,"unit":...,"value":...}; progress goes to stderr.
#
# Each round runs the same client in three places, in this order:
#   bare: an empty cgroup beside the sandbox's;
#   cgfw: cgfw-sandbox --no-loopback, so every packet to 127.0.0.1 takes the egress program's
#         full allow path (the allow list matches it), not the unpoliced-loopback shortcut;
#   nft set: an empty cgroup whose output packets an nftables table sends through a set lookup
#         (address . protocol . port), accepting members and dropping the rest.
# The client sends 64-byte UDP datagrams on a connected socket, then does 1-byte ping-pong on
# one TCP_NODELAY connection, for $seconds each; the sink and the echo server run outside all
# three. Both allow lists hold the same 100 entries: the two benchmark ports and 98 in TEST-NET-1.
#
# Two more runs per round, each for what the rates above cannot show:
#   interleaved: the per-packet cost of cgfw and of nft over bare, in CPU time, from one process
#     whose sockets live in all three places and which takes turns between them every few
#     milliseconds (packet_rate.cpp, interleave()): on a shared 2-core machine the rates of
#     separate runs move by more than the difference sought (its own A/A check, two empty
#     cgroups, is reported: a few tens of ns per UDP packet);
#   bpf_stats: the cgfw client again with kernel.bpf_stats_enabled on, for the egress program's
#     run_time_ns / run_cnt on UDP and on TCP. Separate, because the statistics slow every program
#     down (E1's empty program: 26 ns without, 94 ns with).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: bench/e2.sh BUILD_DIR WORK_DIR" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/e2.sh: run as root: it creates cgroups, nftables tables and BPF programs" >&2
  exit 1
fi
build=$(cd "$1" && pwd)
reps=${CGFW_BENCH_REPS:-5}
seconds=2              # per UDP or TCP run of a client
interleave_seconds=3   # the interleaved run
stats_seconds=1        # per part of the bpf_stats run (its rates are not reported)
tool=${CGFW_BENCH_PACKET_RATE:-$build/bench/cgfw_bench_packet_rate}
sandbox=$build/cgfw-sandbox
for binary in "$tool" "$sandbox"; do
  [ -x "$binary" ] || { echo "bench/e2.sh: $binary is missing" >&2; exit 1; }
done
mkdir -p "$2"
dir=$(mktemp -d "$(cd "$2" && pwd)/e2-XXXXXX")

cgroup2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
# nft finds a cgroup by its path below /sys/fs/cgroup, wherever cgroup2 is mounted.
case "$cgroup2" in
  /sys/fs/cgroup) nft_prefix= ;;
  /sys/fs/cgroup/*) nft_prefix=${cgroup2#/sys/fs/cgroup/}/ ;;
  *) echo "bench/e2.sh: cgroup2 is mounted at $cgroup2, not below /sys/fs/cgroup" >&2; exit 1 ;;
esac
home_cgroup=$cgroup2$(sed -n 's/^0:://p' /proc/self/cgroup)
bare_cgroup=$cgroup2/cgfw-e2-bare-$$
bare2_cgroup=$cgroup2/cgfw-e2-bare2-$$
nft_cgroup=$cgroup2/cgfw-e2-nft-$$
nft_table=cgfw_e2_$$
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
background=()

cleanup() {
  local pid
  # Let the sandboxed scripts go (they wait for these), then stop whatever still runs.
  touch "$dir/hold/release" "$dir/sync/start.read" "$dir/sync/udp.read" "$dir/sync/tcp.read" \
    2>/dev/null || true
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  sysctl -qw kernel.bpf_stats_enabled="$stats_before" || true
  nft delete table inet "$nft_table" 2>/dev/null || true
  rmdir "$bare_cgroup" "$bare2_cgroup" "$nft_cgroup" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir "$bare_cgroup" "$bare2_cgroup" "$nft_cgroup"

in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$@"; }
progress() { echo "e2: $*" >&2; }

# The client, the same file in every place. With a handshake directory (the bpf_stats run) it
# stops before and after each part until the script has read the program's statistics.
cat >"$dir/client.sh" <<'EOF'
#!/bin/sh
set -e
tool=$1 udp_port=$2 tcp_port=$3 seconds=$4 label=$5 sync=${6:-}
step() {
  [ -n "$sync" ] || return 0
  touch "$sync/$1"
  i=0
  while [ ! -e "$sync/$1.read" ] && [ "$i" -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
}
step start
"$tool" udp-send 127.0.0.1 "$udp_port" "$seconds" "$label"
step udp
"$tool" tcp-rr 127.0.0.1 "$tcp_port" "$seconds" "$label"
step tcp
EOF
# Keeps a sandbox open (for the interleaved run) until told to go.
cat >"$dir/hold.sh" <<'EOF'
#!/bin/sh
touch "$1/held"
i=0
while [ ! -e "$1/release" ] && [ "$i" -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
EOF
chmod +x "$dir/client.sh" "$dir/hold.sh"

# The 98 entries besides the benchmark's own, the same in both allow lists.
filler_rules=$dir/filler.rules
filler_nft=
for i in $(seq 49); do
  printf '192.0.2.%d:443\n192.0.2.%d:53/udp\n' "$i" "$i" >>"$filler_rules"
  filler_nft+="192.0.2.$i . tcp . 443, 192.0.2.$i . udp . 53, "
done

# Waits up to 15 s (a sandbox starts in about 0.5 s, longer on a loaded machine).
wait_for_file() {
  local _
  for _ in $(seq 1500); do [ -e "$1" ] && return 0; sleep 0.01; done
  echo "bench/e2.sh: $1 did not appear" >&2
  return 1
}

# Starts the UDP sink and the TCP echo server for one run; sets udp_port and tcp_port.
start_servers() {
  local label=$1
  rm -f "$dir/udp.port" "$dir/tcp.port"
  "$tool" udp-sink "$dir/udp.port" "$label" >"$dir/sink.out" &
  sink=$!
  "$tool" tcp-echo "$dir/tcp.port" &
  echo_server=$!
  background+=("$sink" "$echo_server")
  wait_for_file "$dir/udp.port"
  wait_for_file "$dir/tcp.port"
  udp_port=$(cat "$dir/udp.port")
  tcp_port=$(cat "$dir/tcp.port")
}

# Waits for the servers and anything else started in the background; the sink has written its
# received rate to $dir/sink.out by then.
stop_servers() {
  wait "${background[@]}"
  background=()
}

sandboxed() {
  "$sandbox" -q --no-loopback -f "$filler_rules" -a "127.0.0.1:$udp_port/udp" \
    -a "127.0.0.1:$tcp_port" -- "$@"
}

# The same, replacing the calling (background) shell, so that its $! is the sandbox's runner.
exec_sandboxed() {
  exec "$sandbox" -q --no-loopback -f "$filler_rules" -a "127.0.0.1:$udp_port/udp" \
    -a "127.0.0.1:$tcp_port" -- "$@"
}

# The nft allow list for this run's ports, loaded by `nft -f $dir/nft.rules`.
write_nft_rules() {
  cat >"$dir/nft.rules" <<EOF
table inet $nft_table {
  set allow {
    type ipv4_addr . inet_proto . inet_service
    elements = { ${filler_nft}127.0.0.1 . udp . $udp_port, 127.0.0.1 . tcp . $tcp_port }
  }
  chain output {
    type filter hook output priority filter; policy accept;
    socket cgroupv2 level 1 "$nft_prefix${nft_cgroup##*/}" jump police
  }
  chain police {
    ip daddr . meta l4proto . th dport @allow accept
    drop
  }
}
EOF
}

# One run of the client in `config`; its lines and the sink's go to $dir/round.jsonl.
run() {
  local config=$1
  start_servers "$config"
  local client=("$dir/client.sh" "$tool" "$udp_port" "$tcp_port" "$seconds" "$config")
  case "$config" in
    bare) in_cgroup "$bare_cgroup" "${client[@]}" ;;
    cgfw) sandboxed "${client[@]}" ;;
    "nft set")
      # The table exists only for this run: its output hook sees every packet of the machine
      # (the servers' replies too), which the other runs must not pay for.
      write_nft_rules
      nft -f "$dir/nft.rules"
      in_cgroup "$nft_cgroup" "${client[@]}"
      nft delete table inet "$nft_table"
      ;;
  esac >>"$dir/round.jsonl"
  stop_servers
  cat "$dir/sink.out" >>"$dir/round.jsonl"
}

# The cgroup (full path) of the sandbox started as `pid`: that of the first process below it that
# is not in the sandbox runner's own cgroup.
sandbox_cgroup_of() {
  local own pid cgroup _
  own=$(sed -n 's/^0:://p' "/proc/$1/cgroup")
  for _ in $(seq 500); do
    for pid in $(process_tree "$1"); do
      cgroup=$(sed -n 's/^0:://p' "/proc/$pid/cgroup" 2>/dev/null || true)
      if [ -n "$cgroup" ] && [ "$cgroup" != "$own" ]; then
        echo "$cgroup2$cgroup"
        return
      fi
    done
    sleep 0.01
  done
  echo "bench/e2.sh: no sandbox cgroup below process $1" >&2
  return 1
}

# `pid` and every process below it.
process_tree() {
  local child
  echo "$1"
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null || true); do process_tree "$child"; done
}

# One process, sockets in bare, bare2, the sandbox's cgroup and nft's, taking turns (see
# interleave() in packet_rate.cpp). It makes its receivers first: their ports go into the allow
# lists, the sandbox's cgroup back to it.
interleaved_run() {
  local hold=$dir/hold cgfw_cgroup holder measure
  rm -rf "$hold" "$dir/interleave.ready" "$dir/interleave.go" && mkdir "$hold"
  "$tool" interleave "$dir/interleave.ready" "$dir/interleave.go" "$interleave_seconds" \
    "$home_cgroup" "$bare_cgroup" "$bare2_cgroup" "$nft_cgroup" "nft -f $dir/nft.rules" \
    "nft delete table inet $nft_table" >>"$dir/round.jsonl" &
  measure=$!
  background+=("$measure")
  wait_for_file "$dir/interleave.ready"
  read -r udp_port tcp_port <"$dir/interleave.ready"
  write_nft_rules
  exec_sandboxed "$dir/hold.sh" "$hold" &
  holder=$!
  background+=("$holder")
  wait_for_file "$hold/held"
  cgfw_cgroup=$(sandbox_cgroup_of "$holder")
  echo "$cgfw_cgroup" >"$dir/interleave.go.partial"
  mv "$dir/interleave.go.partial" "$dir/interleave.go"
  wait "$measure"
  touch "$hold/release"
  wait "$holder"
  background=()
}

# Prints "run_time_ns run_cnt" of program `id`.
program_stats() {
  bpftool -j prog show id "$1" | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

# The egress program attached to `cgroup`: found through the sandbox's cgroup, since other cgfw
# runs on the machine load programs of the same name.
egress_program_of() {
  bpftool -j cgroup show "$1" | python3 -c '
import json, sys
ids = [p["id"] for p in json.load(sys.stdin) if p.get("attach_type") == "cgroup_inet_egress"]
print(ids[0] if ids else "")'
}

# The cgfw client again with bpf_stats on, stopping after each part for the statistics to be
# read: the egress program's own time per packet, UDP then TCP.
stats_run() {
  local sync=$dir/sync program before after time count runner part
  rm -rf "$sync" && mkdir "$sync"
  start_servers "bpf_stats"
  sysctl -qw kernel.bpf_stats_enabled=1
  exec_sandboxed "$dir/client.sh" "$tool" "$udp_port" "$tcp_port" "$stats_seconds" stats \
    "$sync" >/dev/null &
  runner=$!
  background+=("$runner")
  wait_for_file "$sync/start"
  program=$(egress_program_of "$(sandbox_cgroup_of "$runner")")
  [ -n "$program" ] || { echo "bench/e2.sh: no egress program on the sandbox" >&2; exit 1; }
  before=$(program_stats "$program")
  touch "$sync/start.read"
  for part in udp tcp; do
    wait_for_file "$sync/$part"
    after=$(program_stats "$program")
    touch "$sync/$part.read"
    read -r time count <<<"$(echo "$before $after" | awk '{print $3 - $1, $4 - $2}')"
    if [ "$count" -gt 0 ]; then
      printf '{"id":"E2","what":"%s","unit":"ns/packet","value":%s}\n' \
        "$part ns/packet, cgfw egress (bpf_stats)" \
        "$(awk -v t="$time" -v n="$count" 'BEGIN {printf "%.1f", t / n}')" >>"$dir/round.jsonl"
    fi
    before=$after
  done
  stop_servers
  sysctl -qw kernel.bpf_stats_enabled="$stats_before"
}

progress "$reps rounds: bare / cgfw / nft set (UDP then TCP, ${seconds} s each), interleaved" \
  "(${interleave_seconds} s), bpf_stats"
for round in $(seq "$reps"); do
  : >"$dir/round.jsonl"
  for config in bare cgfw "nft set"; do run "$config"; done
  interleaved_run
  stats_run
  cat "$dir/round.jsonl"
  progress "round $round of $reps done"
done
