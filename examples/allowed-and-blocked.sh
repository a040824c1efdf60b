#!/usr/bin/env bash
# A real run of cgfw-sandbox: a fake internet in a network namespace (198.51.100.0/24, one sink
# server), one allowed request and one blocked one, and the JSON report they leave.
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

echo "\$ cgfw-sandbox --allow-file examples/egress.txt -- sh -c 'curl http://198.51.100.10/; curl http://198.51.100.11/'"
set +e
"$root/build/cgfw-sandbox" --allow-file "$root/examples/egress.txt" --report-json "$report" -- \
  sh -c 'curl -sS --max-time 5 http://198.51.100.10/; curl -sS --max-time 5 http://198.51.100.11/'
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
    print(f'  {e["decision"]:8} {e["protocol"]} {e["ip"]}:{e["port"]}  by {p["exe"] or p["comm"]} '
          f'(pid {p["pid"]})  [{why}]')
PY
