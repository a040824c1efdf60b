#!/usr/bin/env bash
# A real run of cgfw-sandbox: a fake internet in a network namespace (198.51.100.0/24, a DNS
# server, HTTP(S) servers), allowed and blocked requests by name and by address, and the JSON
# report they leave.
#   sudo examples/allowed-and-blocked.sh
# Installs the dependencies and builds cgfw first if needed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "run as root: sudo $0 (cgfw loads eBPF programs; the fake internet is a network namespace)" >&2
  exit 1
fi
"$root/scripts/install-deps.sh"
[ -x "$root/build/cgfw-sandbox" ] || "$root/scripts/build.sh" "$root/build" >/dev/null

fixture="$root/tests/fixtures/fake-internet.sh"
report=$(mktemp /tmp/cgfw-example-XXXXXX.json)
trap '"$fixture" down example; rm -f "$report"' EXIT
"$fixture" up example >/dev/null

ca="/run/cgfw-test/example/ca.pem"   # the fake internet's own test CA
job="curl -sS --max-time 5 --cacert $ca https://x.allowed.test/
curl -sS --max-time 5 http://198.51.100.13/
curl -sS --max-time 5 http://evil.test/
curl -sS --max-time 5 http://198.51.100.11/"
echo "\$ cgfw-sandbox --allow-file examples/egress.txt --dns-upstream 198.51.100.53 -- sh -c '...'"
echo "$job" | sed 's/^/    /'
set +e
"$root/build/cgfw-sandbox" --allow-file "$root/examples/egress.txt" --report-json "$report" \
  --dns-upstream 198.51.100.53 -- sh -c "$job"
status=$?
set -e
echo "(exit status $status: curl's own)"
echo
echo "The report ($report), its events:"
/usr/bin/python3 - "$report" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for e in report["events"]:
    p = e["process"]
    why = e["rule"]["text"] if "rule" in e else e.get("reason")
    what = f'{e.get("domain")} {e.get("qtype")}' if e["layer"] == "dns" else f'{e["ip"]}:{e["port"]}'
    print(f'  {e["decision"]:8} {e["layer"]:6} {e["protocol"]} {what}  by {p["exe"] or p["comm"]} '
          f'(pid {p["pid"]})  [{why}]')
PY
