#!/usr/bin/env python3
"""Render bench/run.py JSON results as the Markdown table of docs/benchmarks.md.

.venv/bin/python bench/report.py bench/results/*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def rows(report: dict[str, Any]) -> list[str]:
    out = []
    load = report.get("loadavg_before", [0.0])[0], report.get("loadavg_after", [0.0])[0]
    for s in report["scenarios"]:
        lat = s["latency_ms"]
        cpu = s.get("server_cpu", {})
        cpu_ms = " + ".join(
            f"{v['cpu_ms_per_op']:.2f} {name}" for name, v in cpu.items() if v["cpu_ms_per_op"]
        )
        out.append(
            f"| {report['label']} | {s['scenario']} | {s['concurrency']} | {s['ops_per_s']:.1f} "
            f"| {_ms(lat['p50'])} | {_ms(lat['p95'])} | {_ms(lat['p99'])} | {s['errors']} "
            f"| {cpu_ms or '–'} | {s['client_cores_busy']:.2f} | {load[0]:.1f} / {load[1]:.1f} |"
        )
    return out


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    print(
        "| target | scenario | conc. | ops/s | p50 ms | p95 ms | p99 ms | errors "
        "| server CPU ms/op | client cores | load before / after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        for row in rows(json.loads(Path(path).read_text())):
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
