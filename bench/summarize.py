#!/usr/bin/python3
"""Turns bench/run.sh's measurements into bench/results/latest.json and a Markdown table: the
median of the rounds with min and max, each next to its target, met or missed.

Input: JSON lines, one per measurement and round: {"id", "what", "unit", "value"} (or "values":
[...] when a tool times its own rounds). Lines that are not JSON objects are ignored.

Figures derived from two measurements (a ratio, or what one adds to the other) are taken round
by round, since bench/run.sh interleaves the configurations it compares, and only then reduced
to a median.

Usage: summarize.py RESULTS.jsonl OUT.json OUT.md
"""
import json
import os
import platform
import statistics
import sys
import time

# (id, derived what, unit, kind, a, b): per round, a / b ("ratio") or a - b ("added").
DERIVED = [
    ("E2", "udp pps, cgfw / bare", "x", "ratio", "udp pps, cgfw", "udp pps, bare"),
    ("E2", "udp pps, cgfw / nft set", "x", "ratio", "udp pps, cgfw", "udp pps, nft set"),
    ("E2", "tcp rr, cgfw / bare", "x", "ratio", "tcp rr, cgfw", "tcp rr, bare"),
    ("E2", "tcp rr, cgfw / nft set", "x", "ratio", "tcp rr, cgfw", "tcp rr, nft set"),
    ("E2", "udp added ns/packet, cgfw / nft set", "x", "ratio", "udp added ns/packet, cgfw",
     "udp added ns/packet, nft set"),
    ("E2", "tcp added ns/transaction, cgfw / nft set", "x", "ratio",
     "tcp added ns/transaction, cgfw", "tcp added ns/transaction, nft set"),
    ("E3", "allow path, 100000 / 10 rules", "x", "ratio", "allow path, 100000 rules",
     "allow path, 10 rules"),
    ("C1", "added p50", "ns", "added", "connect() p50, in the sandbox", "connect() p50, bare"),
    ("D1", "cgfw / dnsmasq no-cache", "x", "ratio", "qps, cgfw allowed", "qps, dnsmasq no-cache"),
    ("D2", "added p50, cgfw", "us", "added", "p50, cgfw", "p50, direct"),
    ("D2", "added p99, cgfw", "us", "added", "p99, cgfw", "p99, direct"),
    ("D2", "added p50, dnsmasq", "us", "added", "p50, dnsmasq", "p50, direct"),
    ("T1", "cgfw MITM / direct", "x", "ratio", "req/s, cgfw MITM", "req/s, direct"),
    ("T1", "cgfw MITM / sslsplit", "x", "ratio", "req/s, cgfw MITM", "req/s, sslsplit"),
    ("T2", "cgfw passthrough / direct", "x", "ratio", "GB/s, cgfw passthrough", "GB/s, direct"),
    ("T3", "first request, cgfw / direct, TLS 1.3", "x", "ratio",
     "first request p50, cgfw, TLS 1.3", "first request p50, direct, TLS 1.3"),
    ("T3", "first request, cgfw / direct, TLS 1.2", "x", "ratio",
     "first request p50, cgfw, TLS 1.2", "first request p50, direct, TLS 1.2"),
    ("W1", "cgfw DNS+eBPF / bare", "x", "ratio", "wall, cgfw DNS+eBPF", "wall, bare"),
    ("W1", "cgfw MITM / bare", "x", "ratio", "wall, cgfw MITM", "wall, bare"),
    ("W1", "sslsplit / bare", "x", "ratio", "wall, sslsplit", "wall, bare"),
    ("W2", "added", "ms", "added", "cgfw-sandbox -- true", "bare true"),
]

# (id, what) -> (comparison, limit, text). The median meets the target when it compares true.
TARGETS = {
    ("E1", "allow path, 10 rules"): ("<=", 100, "<= 100 ns"),
    ("E1", "allow path under load (bpf_stats)"): ("<=", 100, "<= 100 ns"),
    ("E1", "deny path, 10 rules"): ("<=", 130, "<= 130 ns (deny + event)"),
    ("E2", "udp pps, cgfw / bare"): (">=", 0.98, ">= 0.98 (within 2 %)"),
    ("E2", "tcp rr, cgfw / bare"): (">=", 0.98, ">= 0.98 (within 2 %)"),
    ("E2", "udp added ns/packet, cgfw / nft set"): ("<=", 1.0, "<= 1 (cheaper than nft)"),
    ("E2", "tcp added ns/transaction, cgfw / nft set"): ("<=", 1.0, "<= 1 (cheaper than nft)"),
    ("E3", "allow path, 100000 / 10 rules"): ("<=", 1.5, "<= 1.5"),
    ("E3", "load and fill, 100000 rules"): ("<=", 1000, "<= 1000 ms"),
    ("C1", "added p50"): ("<=", 5000, "<= 5000 ns"),
    ("D1", "cgfw / dnsmasq no-cache"): (">=", 1.5, ">= 1.5"),
    ("D1", "qps, cgfw denied"): (">=", 95000, ">= 95000 qps"),
    ("D2", "added p50, cgfw"): ("<=", 25, "<= 25 us"),
    ("T1", "cgfw MITM / direct"): (">=", 0.6, ">= 0.6"),
    ("T1", "cgfw MITM / sslsplit"): (">=", 1.5, ">= 1.5"),
    ("T2", "GB/s, cgfw MITM"): (">=", 0.75, ">= 0.75 GB/s"),
    ("T2", "cgfw passthrough / direct"): (">=", 0.9, ">= 0.9"),
    ("T3", "conn/s, cgfw, TLS 1.3"): (">=", 1000, ">= 1000 conn/s"),
    ("T3", "conn/s, cgfw, TLS 1.2"): (">=", 1000, ">= 1000 conn/s"),
    ("T3", "first request, cgfw / direct, TLS 1.3"): ("<=", 2, "<= 2"),
    ("T3", "first request, cgfw / direct, TLS 1.2"): ("<=", 2, "<= 2"),
    ("T3", "stalls >= 40 ms, cgfw, TLS 1.3"): ("<=", 0, "0"),
    ("T3", "stalls >= 40 ms, cgfw, TLS 1.2"): ("<=", 0, "0"),
    ("T4", "mint p50, 1k distinct names"): ("<=", 0.3, "<= 0.3 ms"),
    ("T4", "mints for 32 concurrent first contacts to one name"): ("<=", 1, "1"),
    ("W1", "cgfw DNS+eBPF / bare"): ("<=", 1.02, "<= 1.02"),
    ("W1", "cgfw MITM / bare"): ("<=", 1.3, "<= 1.3"),
    ("W2", "cgfw-sandbox -- true"): ("<=", 50, "<= 50 ms"),
    ("M1", "RSS, cgfw"): ("<=", 50, "<= 50 MB"),
}

ORDER = ["E1", "E2", "E3", "C1", "D1", "D2", "T1", "T2", "T3", "T4", "W1", "W2", "M1"]


def read_rounds(path):
    """(id, what) -> {"unit", "values": [per round, in order]}, in first-seen order."""
    found = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        if "error" in row:
            print("summarize: %s %s: %s" % (row.get("id"), row.get("what"), row["error"]),
                  file=sys.stderr)
            continue
        entry = found.setdefault((row["id"], row["what"]), {"unit": row["unit"], "values": []})
        entry["values"] += row["values"] if "values" in row else [row["value"]]
    return found


def derive(found):
    for id_, what, unit, kind, a, b in DERIVED:
        if (id_, a) not in found or (id_, b) not in found:
            continue
        pairs = zip(found[(id_, a)]["values"], found[(id_, b)]["values"])
        if kind == "ratio":
            values = [x / y for x, y in pairs if y]
        else:
            values = [x - y for x, y in pairs]
        if values:
            found[(id_, what)] = {"unit": unit, "values": values}


def verdict(key, median):
    if key not in TARGETS:
        return None, None
    comparison, limit, text = TARGETS[key]
    met = median <= limit if comparison == "<=" else median >= limit
    return text, met


def main():
    source, out_json, out_md = sys.argv[1:4]
    found = read_rounds(source)
    derive(found)
    keys = sorted(found, key=lambda k: ORDER.index(k[0]) if k[0] in ORDER else len(ORDER))
    measurements = []
    for key in keys:
        values = found[key]["values"]
        median = statistics.median(values)
        target, met = verdict(key, median)
        measurements.append({
            "id": key[0], "what": key[1], "unit": found[key]["unit"],
            "median": median, "min": min(values), "max": max(values), "rounds": len(values),
            "target": target, "met": met,
        })
    results = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"kernel": platform.release(), "cpus": os.cpu_count()},
        "measurements": measurements,
    }
    json.dump(results, open(out_json, "w"), indent=2)

    def number(x):
        return "%.3g" % x if abs(x) < 10 else "{:,.0f}".format(x)

    lines = ["| id | what | median | min | max | unit | n | target | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in measurements:
        met = "" if m["met"] is None else ("yes" if m["met"] else "**no**")
        lines.append("| %s | %s | %s | %s | %s | %s | %d | %s | %s |" % (
            m["id"], m["what"], number(m["median"]), number(m["min"]), number(m["max"]),
            m["unit"], m["rounds"], m["target"] or "", met))
    open(out_md, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
