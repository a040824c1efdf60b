#!/usr/bin/env bash
# W1 (docs/benchmarks.md): a build-like workload, timed from inside, so cgfw's start and stop
# (W2) are not counted: `git clone` over HTTPS (dumb HTTP: one request per object, ~2,500
# objects), 64 parallel HTTPS fetches (curl --parallel), a `pip download` of 8 packages from a
# static index, and 500 DNS lookups of distinct names. Configurations, interleaved per round:
#   bare              no sandbox; names resolved by the origin's DNS server directly
#   cgfw DNS+eBPF     domain rules: DNS through cgfw's proxy, TLS passed through (spliced)
#   cgfw MITM         URL rules: every HTTPS request decrypted and checked by cgfw
#   sslsplit          every HTTPS connection through sslsplit (names mapped to it in /etc/hosts);
#                     first round only: it takes ~150 s
# Usage: bench/workload.sh BUILD_DIR WORK_DIR (bench/run.sh calls it); JSON lines on stdout.
set -euo pipefail
build=$1
work=$2
reps=${CGFW_BENCH_REPS:-5}
BULK_MB=1
source "$(dirname "$0")/origin.sh"

cleanup() {
  [ -n "${sslsplit_pid:-}" ] && kill "$sslsplit_pid" 2>/dev/null
  origin_down
}
trap cleanup EXIT
origin_up "$work"

# The workload, for names under DOMAIN. Prints its wall time in seconds.
cat >"$work/workload.sh" <<'WORKLOAD'
set -eu
domain=$1
scratch=$(mktemp -d /dev/shm/cgfw-w1-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
start=$(date +%s%N)
GIT_SSL_NO_VERIFY=1 git clone -q "https://git.$domain/git/repo.git" "$scratch/repo"
set --
for i in $(seq 64); do set -- "$@" -o /dev/null "https://files.$domain/files/$i"; done
curl -sfk --no-progress-meter --parallel --parallel-max 64 "$@"
HOME=$scratch pip download -q --no-deps --no-cache-dir --disable-pip-version-check \
  --trusted-host "pypi.$domain" --index-url "https://pypi.$domain/simple/" -d "$scratch/pip" \
  cgfwbench0 cgfwbench1 cgfwbench2 cgfwbench3 cgfwbench4 cgfwbench5 cgfwbench6 cgfwbench7
/usr/bin/python3 -c '
import socket, sys
for i in range(500):
    socket.getaddrinfo("d%d.%s" % (i, sys.argv[1]), 443, socket.AF_INET, socket.SOCK_STREAM)
' "$domain"
echo "scale=3; ($(date +%s%N) - $start) / 1000000000" | bc
WORKLOAD

# bare and sslsplit resolve through the origin's DNS server; sslsplit's names point at it.
printf 'nameserver %s\n' "$origin_dns" >"$work/resolv.conf"
printf '127.0.0.1 localhost\n127.0.0.2 git.pass.test files.pass.test pypi.pass.test\n' \
  >"$work/hosts.sslsplit"
with_resolver() {
  local hosts=$1
  shift
  unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts &&
    shift && exec "$@"' "$work/resolv.conf" "$hosts" "$@"
}
sslsplit -u root -c "$origin_dir/origin-ca.pem" -k "$origin_dir/origin-ca.key" \
  https 127.0.0.2 443 "$origin_ip" 443 >"$work/sslsplit.log" 2>&1 &
sslsplit_pid=$!
for _ in $(seq 200); do
  curl -sk --max-time 1 -o /dev/null "https://127.0.0.2/small" && break
  sleep 0.05
done

cgfw=("$build/cgfw-sandbox" -q --dns-upstream "$origin_dns" --upstream-ca "$origin_dir/origin-ca.pem")
json() { printf '{"id":"W1","what":"%s","unit":"s","value":%s}\n' "$1" "$2"; }

echo "== W1: git clone + 64 parallel fetches + pip download + 500 lookups, $reps rounds" >&2
for round in $(seq "$reps"); do
  json "wall, bare" "$(with_resolver /etc/hosts sh "$work/workload.sh" pass.test)"
  json "wall, cgfw DNS+eBPF" "$("${cgfw[@]}" -a '*.pass.test:443' -- sh "$work/workload.sh" pass.test)"
  json "wall, cgfw MITM" "$("${cgfw[@]}" -a 'https://*.bench.test' -- sh "$work/workload.sh" bench.test)"
  # sslsplit closes every connection after one request, so the clone alone takes ~2,500
  # handshakes: ~150 s a run. One round only, to keep bench/run.sh under 20 minutes.
  if [ "$round" -eq 1 ]; then
    json "wall, sslsplit" "$(with_resolver "$work/hosts.sslsplit" sh "$work/workload.sh" pass.test)"
  fi
done
