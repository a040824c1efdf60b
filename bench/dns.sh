#!/usr/bin/env bash
# D1 and D2 (docs/benchmarks.md): cgfw's DNS proxy against the forwarders a user would otherwise
# pick, all on loopback, all forwarding to the same upstream.
#
# Usage: bench/dns.sh BUILD_DIR WORK_DIR (as root; CGFW_BENCH_REPS rounds, default 5). BUILD_DIR
# holds cgfw-sandbox and bench/cgfw_bench_dns_latency. Prints only JSON lines on stdout, one per
# measurement per round, {"id":"D1"|"D2","what":...,"unit":"qps"|"us","value":...}; progress
# goes to stderr. Needs dnsperf, dnsmasq, unbound and dnsdist (Debian packages).
#
# Upstream: unbound, 2 threads (one per core), authoritative for bench.test through
# `local-zone: bench.test redirect`: every name under it is answered with A 198.51.100.20, and
# nothing else is answered (REFUSED). Its own rate, dnsperf straight at it, is the ceiling.
#
# D1, queries per second with dnsperf (one process, 8 sockets, 200 queries outstanding, at most
# $seconds s and $names queries per run), uncached: every query of a round asks a distinct name
# (r<round>-<n>.bench.test), so no hop can answer from a cache, and each name reaches each
# forwarder once. whats (unit qps):
#   "qps, upstream alone"     dnsperf straight at the upstream: the ceiling
#   "qps, cgfw allowed"       dnsperf inside `cgfw-sandbox -a '*.bench.test' --dns-upstream
#                             UPSTREAM`, aimed at 127.0.0.1:53: the sandbox sends every port-53
#                             packet to cgfw's proxy, which decides, forwards (c-ares), learns the
#                             answer's address and releases it (one thread: the run's asio loop)
#   "qps, cgfw denied"        the same with names no rule allows (n<n>.denied.test): answered
#                             NXDOMAIN by the proxy itself, nothing forwarded
#   "qps, dnsmasq no-cache"   dnsmasq --cache-size=0 --dns-forward-max=4096 (single-threaded)
#   "qps, unbound forwarder"  forward-zone bench.test to the upstream, num-threads 2, every cache
#                             size 0 (names are distinct anyway)
#   "qps, dnsdist no-cache"   1 UDP listener thread + 1 responder thread (its defaults for one
#                             listen address and one backend), no packet cache (none configured)
# D2, latency one query at a time (cgfw_bench_dns_latency: up to $latency_count sequential
# queries for distinct names on one connected UDP socket, each round trip timed with
# steady_clock), whats "p50, PATH" and "p99, PATH" (unit us), PATH one of:
#   direct   straight to the upstream
#   dnsmasq  through dnsmasq (one hop, the peer above)
#   cgfw     through cgfw's proxy (the client inside the sandbox, aimed at 127.0.0.1:53)
# each measured pinned to one CPU (every process on the path; steady, the proxy's own cost), then
# as "PATH, unpinned" (see pin_path below). What each hop adds is derived per round by
# bench/summarize.py.
#
# Rounds interleave everything: round 1 runs every D1 and D2 measurement, then round 2, ...
# Everything started here is killed on exit. Ports: 127.0.0.1:$base..$base+3 (UDP and TCP),
# default base 5301 (CGFW_BENCH_DNS_PORT).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: bench/dns.sh BUILD_DIR WORK_DIR" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/dns.sh: run as root: cgfw-sandbox loads BPF programs and creates cgroups" >&2
  exit 1
fi
build=$(cd "$1" && pwd)
reps=${CGFW_BENCH_REPS:-5}
seconds=${CGFW_BENCH_DNS_SECONDS:-3}  # per dnsperf run (at most)
names=${CGFW_BENCH_DNS_NAMES:-300000} # distinct names per round, and at most this many per run
latency_count=${CGFW_BENCH_DNS_LATENCY_COUNT:-20000} # timed queries per D2 path and round
latency_seconds=${CGFW_BENCH_DNS_LATENCY_SECONDS:-5} # at most, per D2 path and round
base=${CGFW_BENCH_DNS_PORT:-5301}
tool=${CGFW_BENCH_DNS_LATENCY:-$build/bench/cgfw_bench_dns_latency}
sandbox=$build/cgfw-sandbox
for binary in "$tool" "$sandbox"; do
  [ -x "$binary" ] || { echo "bench/dns.sh: $binary is missing" >&2; exit 1; }
done
for program in dnsperf dnsmasq unbound dnsdist taskset; do
  command -v "$program" >/dev/null ||
    { echo "bench/dns.sh: $program is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
up_port=$base dnsmasq_port=$((base + 1)) unbound_port=$((base + 2)) dnsdist_port=$((base + 3))
for port in $up_port $dnsmasq_port $unbound_port $dnsdist_port; do
  if ss -Hlnu "sport = :$port" | grep -q . || ss -Hlnt "sport = :$port" | grep -q .; then
    echo "bench/dns.sh: port $port is in use; set CGFW_BENCH_DNS_PORT to another base" >&2
    exit 1
  fi
done
mkdir -p "$2"
dir=$(mktemp -d "$(cd "$2" && pwd)/dns-XXXXXX")

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "dns.sh: $*" >&2; }

# Waits until the server on PORT answers a bench.test query (at most ~10 s).
wait_ready() {
  local port=$1 name=$2
  for _ in $(seq 20); do
    if "$tool" 127.0.0.1 "$port" 1 ready "ready-$port" 0 >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$name on 127.0.0.1:$port never answered; its log:"
  cat "$dir/$name.log" >&2 || true
  exit 1
}

# --- the upstream: unbound, authoritative for bench.test ------------------------------------------
unbound_common="  do-daemonize: no
  username: \"\"
  chroot: \"\"
  directory: \"$dir\"
  pidfile: \"\"
  use-syslog: no
  logfile: \"\"
  verbosity: 0
  access-control: 127.0.0.0/8 allow
  module-config: \"iterator\"
remote-control:
  control-enable: no"
cat >"$dir/upstream.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $up_port
  num-threads: 2
  so-reuseport: yes
  local-zone: "." refuse
  local-zone: "bench.test." redirect
  local-data: "bench.test. 3600 IN A 198.51.100.20"
$unbound_common
EOF
unbound -d -c "$dir/upstream.conf" >"$dir/upstream.log" 2>&1 &
pids+=($!)

# --- the peers ---------------------------------------------------------------------------------
dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --no-poll --user=root --pid-file= \
  --listen-address=127.0.0.1 --bind-interfaces --port="$dnsmasq_port" \
  --server="127.0.0.1#$up_port" --cache-size=0 --dns-forward-max=4096 \
  --log-facility="$dir/dnsmasq.log" >"$dir/dnsmasq.log" 2>&1 &
pids+=($!)

cat >"$dir/forwarder.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $unbound_port
  num-threads: 2
  so-reuseport: yes
  do-not-query-localhost: no
  qname-minimisation: no
  local-zone: "test." nodefault
  msg-cache-size: 0
  rrset-cache-size: 0
  key-cache-size: 0
  neg-cache-size: 0
  num-queries-per-thread: 4096
  outgoing-range: 8192
$unbound_common
forward-zone:
  name: "bench.test."
  forward-addr: 127.0.0.1@$up_port
EOF
unbound -d -c "$dir/forwarder.conf" >"$dir/unbound.log" 2>&1 &
pids+=($!)

cat >"$dir/dnsdist.conf" <<EOF
setLocal('127.0.0.1:$dnsdist_port')
newServer({address='127.0.0.1:$up_port', checkName='bench.test.', checkInterval=1})
setSecurityPollSuffix('')
EOF
dnsdist --supervised --disable-syslog -C "$dir/dnsdist.conf" >"$dir/dnsdist.log" 2>&1 &
pids+=($!)

wait_ready "$up_port" upstream
wait_ready "$dnsmasq_port" dnsmasq
wait_ready "$unbound_port" unbound
wait_ready "$dnsdist_port" dnsdist
threads() { ls "/proc/$1/task" | wc -l; }
log "upstream unbound ${pids[0]} ($(threads "${pids[0]}") threads), dnsmasq ${pids[1]} ($(threads "${pids[1]}")), unbound forwarder ${pids[2]} ($(threads "${pids[2]}")), dnsdist ${pids[3]} ($(threads "${pids[3]}") threads, 2 of them on the UDP path)"

# --- D1 ----------------------------------------------------------------------------------------
# Names no rule allows, for the deny path; the allowed names are made per round.
awk -v n="$names" 'BEGIN { for (i = 0; i < n; i++) printf "n%d.denied.test A\n", i }' \
  >"$dir/denied.txt"

emit() { printf '{"id":"%s","what":"%s","unit":"%s","value":%s}\n' "$1" "$2" "$3" "$4"; }

# Runs dnsperf (the command before it, if any, wraps it) and emits its rate. EXPECT is the rcode
# every answer should carry; anything else is warned about on stderr (the rate is still emitted).
perf_run() {
  local what=$1 expect=$2 file=$3 port=$4
  shift 4
  local out="$dir/dnsperf.out"
  "$@" dnsperf -s 127.0.0.1 -p "$port" -d "$file" -n 1 -l "$seconds" -c 8 -q 200 -t 1 \
    >"$out" 2>&1 || true
  local qps completed codes
  qps=$(awk '/Queries per second:/ { print $4 }' "$out")
  completed=$(awk '/Queries completed:/ { print $3, $4 }' "$out")
  codes=$(sed -n 's/^ *Response codes: *//p' "$out")
  if [ -z "$qps" ]; then
    log "D1 $what: dnsperf failed:"
    tail -5 "$out" >&2
    return 0
  fi
  log "D1 $what: $qps qps, completed $completed, $codes"
  case "$codes" in
    "$expect "*"(100.00%)") ;;
    *) log "D1 $what: WARNING: not every answer was $expect" ;;
  esac
  emit D1 "$what" qps "$qps"
}

in_cgfw() { "$sandbox" -q --dns-upstream "127.0.0.1:$up_port" -a '*.bench.test' -- "$@"; }

# D2 runs twice per round. First with every process on the path (client, cgfw or dnsmasq, the
# upstream's threads) pinned to one CPU: a hop then costs its own work and two context switches,
# which is what the target is about, and the figures are steady. Then unpinned, as a user's
# machine would run it: on this VM (cpuidle haltpoll) waking an idle vCPU costs ~25 us, so each
# hop adds two such wake-ups on top, and the figures move with whatever else the machine does.
all_cpus=$(taskset -c -p $$ | sed 's/.*: //')
pin_cpu=${all_cpus##*[,-]}
pin_path() { # CPUS: the upstream's and dnsmasq's threads
  local pid
  for pid in "${pids[0]}" "${pids[1]}"; do taskset -a -c -p "$1" "$pid" >/dev/null; done
}
pinned() { taskset -c "$pin_cpu" "$@"; }
pinned_cgfw() { taskset -c "$pin_cpu" "$sandbox" -q --dns-upstream "127.0.0.1:$up_port" -a '*.bench.test' -- "$@"; }

# Runs the latency client (the command after the arguments, if any, wraps it); it prints
# "p50, WHAT" and "p99, WHAT".
latency() {
  local what=$1 port=$2 prefix=$3
  shift 3
  "$@" "$tool" 127.0.0.1 "$port" "$latency_count" "$what" "$prefix" 200 "$latency_seconds" ||
    log "D2 $what: the latency client failed"
}

started=$(date +%s)
for round in $(seq "$reps"); do
  log "round $round of $reps"
  awk -v n="$names" -v r="$round" \
    'BEGIN { for (i = 0; i < n; i++) printf "r%d-%d.bench.test A\n", r, i }' >"$dir/allowed.txt"
  perf_run "qps, upstream alone" NOERROR "$dir/allowed.txt" "$up_port"
  perf_run "qps, cgfw allowed" NOERROR "$dir/allowed.txt" 53 in_cgfw
  perf_run "qps, cgfw denied" NXDOMAIN "$dir/denied.txt" 53 in_cgfw
  perf_run "qps, dnsmasq no-cache" NOERROR "$dir/allowed.txt" "$dnsmasq_port"
  perf_run "qps, unbound forwarder" NOERROR "$dir/allowed.txt" "$unbound_port"
  perf_run "qps, dnsdist no-cache" NOERROR "$dir/allowed.txt" "$dnsdist_port"

  pin_path "$pin_cpu"
  latency direct "$up_port" "l$round-d" pinned
  latency dnsmasq "$dnsmasq_port" "l$round-m" pinned
  latency cgfw 53 "l$round-c" pinned_cgfw
  pin_path "$all_cpus"
  latency "direct, unpinned" "$up_port" "l$round-du"
  latency "dnsmasq, unpinned" "$dnsmasq_port" "l$round-mu"
  latency "cgfw, unpinned" 53 "l$round-cu" in_cgfw
done
log "done in $(($(date +%s) - started)) s of rounds"
