#!/usr/bin/python3
"""Plots bench/results/latest.json: one PNG per benchmark id (E1.png, D1.png, ...), one panel per
unit, a bar per measurement at its median with a whisker from min to max, and the target as a
dashed line where it is a plain limit in that unit.

Usage: plot.py LATEST.json OUT_DIR
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import TARGETS  # noqa: E402


def main():
    latest, out_dir = sys.argv[1:3]
    measurements = json.load(open(latest))["measurements"]
    by_id = {}
    for m in measurements:
        by_id.setdefault(m["id"], {}).setdefault(m["unit"], []).append(m)
    for id_, units in by_id.items():
        figure, axes = plt.subplots(len(units), 1, squeeze=False,
                                    figsize=(9, 0.9 + sum(0.42 * len(ms) + 0.7 for ms in units.values())),
                                    gridspec_kw={"height_ratios": [len(ms) for ms in units.values()]})
        for axis, (unit, ms) in zip(axes[:, 0], units.items()):
            names = [m["what"] for m in ms]
            medians = [m["median"] for m in ms]
            low = [m["median"] - m["min"] for m in ms]
            high = [m["max"] - m["median"] for m in ms]
            colors = ["#999999" if m["met"] is None else ("#2e7d32" if m["met"] else "#c62828")
                      for m in ms]
            positions = range(len(ms))
            axis.barh(positions, medians, xerr=[low, high], color=colors, capsize=3)
            axis.set_yticks(list(positions), names, fontsize=8)
            axis.invert_yaxis()
            axis.set_xlabel(unit)
            for i, m in enumerate(ms):
                target = TARGETS.get((m["id"], m["what"]))
                if target:
                    axis.plot([target[1], target[1]], [i - 0.45, i + 0.45], "k--", linewidth=1)
        axes[0, 0].set_title("%s (median, min-max; green met, red missed, dashed target)" % id_,
                             fontsize=9)
        figure.tight_layout()
        figure.savefig(os.path.join(out_dir, "%s.png" % id_), dpi=90)
        plt.close(figure)


if __name__ == "__main__":
    main()
