#!/usr/bin/env bash
# T1-T4 and M1 (docs/benchmarks.md): HTTPS through cgfw's TLS proxy, intercepting (a URL rule) and
# passing through (a domain rule), against the origin directly and against sslsplit, on the origin
# of bench/origin.sh. Rounds interleave the configurations.
# Usage: bench/tls.sh BUILD_DIR WORK_DIR (bench/run.sh calls it); JSON lines on stdout.
#
# Load generators: wrk (1 thread, 16 connections), curl, and bench/tls_client.cpp. Peer threads:
# nginx 1 worker; sslsplit its default (reported); cgfw one event-loop thread (reported).
set -euo pipefail
build=$1
work=$2
reps=${CGFW_BENCH_REPS:-5}
source "$(dirname "$0")/origin.sh"
tls_client="$build/bench/cgfw_bench_tls_client"

cleanup() {
  [ -n "${sslsplit_pid:-}" ] && kill "$sslsplit_pid" 2>/dev/null
  origin_down
}
trap cleanup EXIT
origin_up "$work"

# cgfw: names under bench.test are intercepted (URL rule), names under pass.test passed through.
cgfw=("$build/cgfw-sandbox" -q --dns-upstream "$origin_dns" --upstream-ca "$origin_dir/origin-ca.pem"
  -a 'https://*.bench.test' -a '*.pass.test:443')
in_cgfw() { "${cgfw[@]}" -- "$@"; }

# sslsplit: one static target (the origin), HTTPS mode, its own CA; it forges a leaf per
# certificate it meets upstream.
sslsplit_port=10443
sslsplit -u root -c "$origin_dir/origin-ca.pem" -k "$origin_dir/origin-ca.key" \
  https 127.0.0.1 "$sslsplit_port" "$origin_ip" 443 >"$work/sslsplit.log" 2>&1 &
sslsplit_pid=$!
for _ in $(seq 200); do
  curl -sk --max-time 1 -o /dev/null "https://127.0.0.1:$sslsplit_port/small" && break
  sleep 0.05
done

json() { printf '{"id":"%s","what":"%s","unit":"%s","value":%s}\n' "$@"; }
threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
rss_mb_of() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# wrk's "Requests/sec:" line.
wrk_rate() { wrk -t1 -c16 -d5s "$1" | awk '/^Requests\/sec:/ {print $2}'; }
# curl's average download speed in GB/s.
curl_rate() {
  curl -sk -o /dev/null -w '%{speed_download}\n' "$@" | awk '{printf "%.3f", $1 / 1e9}'
}

echo "== T1: HTTPS keep-alive req/s (wrk -t1 -c16 -d5s), $reps rounds" >&2
for round in $(seq "$reps"); do
  json T1 "req/s, direct" "req/s" "$(wrk_rate "https://$origin_ip/small")"
  json T1 "req/s, cgfw MITM" "req/s" "$(in_cgfw wrk -t1 -c16 -d5s https://t1.bench.test/small |
    awk '/^Requests\/sec:/ {print $2}')"
  json T1 "req/s, sslsplit" "req/s" "$(wrk_rate "https://127.0.0.1:$sslsplit_port/small")"
done
json T1 "threads, sslsplit" threads "$(threads_of "$sslsplit_pid")"

echo "== T2: bulk HTTPS, ${BULK_MB} MiB (curl), $reps rounds" >&2
for round in $(seq "$reps"); do
  json T2 "GB/s, direct" "GB/s" "$(curl_rate --resolve "bulk.pass.test:443:$origin_ip" \
    https://bulk.pass.test/bulk)"
  json T2 "GB/s, cgfw passthrough" "GB/s" "$(in_cgfw curl -sk -o /dev/null \
    -w '%{speed_download}\n' https://bulk.pass.test/bulk | awk '{printf "%.3f", $1 / 1e9}')"
  json T2 "GB/s, cgfw MITM" "GB/s" "$(in_cgfw curl -sk -o /dev/null \
    -w '%{speed_download}\n' https://bulk.bench.test/bulk | awk '{printf "%.3f", $1 / 1e9}')"
  json T2 "GB/s, sslsplit" "GB/s" "$(curl_rate "https://127.0.0.1:$sslsplit_port/bulk")"
done

echo "== T3: new TLS connections, one at a time, 500 per round, $reps rounds" >&2
for round in $(seq "$reps"); do
  for version in tls13 tls12; do
    label="TLS 1.${version: -1}"
    "$tls_client" connections "$origin_ip" 443 500 "$version" "direct, $label"
    in_cgfw "$tls_client" connections t3.bench.test 443 500 "$version" "cgfw, $label"
  done
  # sslsplit 0.5.5 speaks TLS 1.2 at most.
  "$tls_client" connections 127.0.0.1 "$sslsplit_port" 500 tls12 "sslsplit, TLS 1.2"
done

echo "== T4 + M1: first contacts to 1,000 names, then 1,000 connections held, $reps rounds" >&2
for round in $(seq "$reps"); do
  "$build/bench/cgfw_bench_mint_cost"
  rm -f "$work/held"
  "${cgfw[@]}" -- sh -c "'$tls_client' mint 'r${round}n%d.bench.test' 443 1000 &&
    '$tls_client' hold 'r${round}n%d.bench.test' 443 1000 '$work/held' 5" &
  sandbox=$!
  for _ in $(seq 1200); do [ -e "$work/held" ] && break; sleep 0.05; done
  json M1 "RSS, cgfw" MB "$(rss_mb_of "$sandbox")"
  json M1 "threads, cgfw" threads "$(threads_of "$sandbox")"
  wait "$sandbox"

  rm -f "$work/held"
  "$tls_client" hold 127.0.0.1 "$sslsplit_port" 1000 "$work/held" 5 &
  client=$!
  for _ in $(seq 1200); do [ -e "$work/held" ] && break; sleep 0.05; done
  json M1 "RSS, sslsplit" MB "$(rss_mb_of "$sslsplit_pid")"
  wait "$client"

  # One name, 32 first contacts at once: how many leaves did the run mint?
  "${cgfw[@]}" --report-json "$work/report.json" -- \
    "$tls_client" concurrent "c$round.bench.test" 443 32
  json T4 "mints for 32 concurrent first contacts to one name" leaves \
    "$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["summary"]["kernel"]["tls_leaves_minted"])' \
      "$work/report.json")"
done
