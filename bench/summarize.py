#!/usr/bin/python3
"""Turns bench/run.sh's measurements (JSON lines) into bench/results/latest.json and a Markdown
table: medians with min and max over the rounds, each next to its target and the ratio to it.

Usage: summarize.py RESULTS.jsonl OUT.json OUT.md
"""
import json
import os
import platform
import statistics
import sys
import time

# id/what -> (target text, target value, unit); ratios are measured / target (<= 1 meets it).
TARGETS = {
    ("E1", "allow path"): ("<= 100 ns", 100.0),
    ("E1", "deny path"): ("<= 130 ns (deny + event)", 130.0),
    ("E3", "load and fill/100000"): ("<= 1000 ms", 1000.0),
    ("C1", "added p50"): ("<= 5000 ns added", 5000.0),
    ("W2", "cgfw-sandbox -- true"): ("<= 50 ms", 50.0),
}


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main():
    source, out_json, out_md = sys.argv[1:4]
    rows = [json.loads(line) for line in open(source) if line.strip().startswith("{")]
    table = []

    under_load = [r["ns_per_packet"]["median"] for r in rows
                  if r["id"] == "E1" and r["what"].startswith("allow path under load")]
    if under_load:
        table.append(("E1", "allow path under load (bpf_stats, real TCP)", spread(under_load),
                      "ns_per_packet", TARGETS[("E1", "allow path")]))
    for row in rows:
        if row["id"] == "E1" and row["what"].startswith("allow path under load"):
            continue
        if row["id"] in ("E1", "E3"):
            unit = "ns_per_packet" if "ns_per_packet" in row else "ms"
            key = row["what"] if row["id"] == "E1" else "%s/%d" % (row["what"], row["rules"])
            table.append((row["id"], "%s, %d rules" % (row["what"], row["rules"]), row[unit], unit,
                          TARGETS.get((row["id"], key))))

    c1 = {"bare": [], "sandbox": []}
    for row in rows:
        if row["id"] == "C1":
            c1[row["what"]].append(row["ns"]["p50"])
    if c1["bare"] and c1["sandbox"]:
        added = [s - b for b, s in zip(c1["bare"], c1["sandbox"])]
        table.append(("C1", "connect() p50, bare", spread(c1["bare"]), "ns", None))
        table.append(("C1", "connect() p50, in the sandbox", spread(c1["sandbox"]), "ns", None))
        table.append(("C1", "added p50", spread(added), "ns", TARGETS[("C1", "added p50")]))
        refused = [r.get("failed", 0) for r in rows if r["id"] == "C1" and r["what"] == "sandbox"]
        table.append(("C1", "connects refused in the sandbox, per 20,000", spread(refused),
                      "connects", None))

    w2 = {}
    for row in rows:
        if row["id"] == "W2":
            w2.setdefault(row["what"], []).append(row["ms"])
    for what, values in w2.items():
        table.append(("W2", what, spread(values), "ms", TARGETS.get(("W2", what))))

    results = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"kernel": platform.release(), "cpus": os.cpu_count()},
        "measurements": [
            {"id": i, "what": w, "unit": u, "value": v,
             "target": t[0] if t else None,
             "ratio_to_target": round(v["median"] / t[1], 2) if t else None}
            for i, w, v, u, t in table
        ],
    }
    json.dump(results, open(out_json, "w"), indent=2)

    lines = ["| id | what | median | min | max | unit | target | ratio to target |",
             "|---|---|---|---|---|---|---|---|"]
    for m in results["measurements"]:
        v = m["value"]
        lines.append("| %s | %s | %.1f | %.1f | %.1f | %s | %s | %s |" % (
            m["id"], m["what"], v["median"], v["min"], v["max"], m["unit"], m["target"] or "",
            m["ratio_to_target"] if m["ratio_to_target"] is not None else ""))
    open(out_md, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
