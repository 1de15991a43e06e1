"""Run the registered benchmarks, print their tables and write every figure to $BENCH_JSON."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import bench
from bench import BENCHES, Row
from bench.machine import cpu_ticks, describe, speed_reference, steal_percent

_NOT_BENCHES = {"__main__"}


def discover() -> None:
    """Import every module of the package so that their @bench functions register."""
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name not in _NOT_BENCHES:
            importlib.import_module(f"bench.{module.name}")


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def table(rows: list[Row]) -> str:
    """Rows as an aligned text table (columns in the order they first appear)."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [columns] + [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(text.rjust(w) if n else text.ljust(w) for n, (text, w) in enumerate(zip(line, widths)))
             for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a first look or CI")
    defaults = sorted(name for name, b in BENCHES.items() if b.default)
    parser.add_argument("names", nargs="*", help=f"benches to run (default: {', '.join(defaults)}; "
                                                 f"all: {', '.join(sorted(BENCHES))})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; known: {', '.join(sorted(BENCHES))}")

    machine = describe()
    print(f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['os']}, "
          f"{machine['python']}" + (" (quick)" if args.quick else ""))
    print(f"speed reference {machine['reference_ms']} ms (bench/machine.py: the same Python work on every machine; "
          f"lower is faster)")
    results = {}
    for name in args.names or defaults:
        b = BENCHES[name]
        print(f"\n== {name}: {b.title}", flush=True)
        started, ticks = time.perf_counter(), cpu_ticks()
        rows = b.run(args.quick)
        seconds, stolen = time.perf_counter() - started, steal_percent(ticks, cpu_ticks())
        reference_ms = speed_reference()
        print(table(rows))
        print(f"({seconds:.1f} s; CPU stolen by the hypervisor: "
              f"{'unknown' if stolen is None else f'{stolen} %'}; speed reference after: {reference_ms} ms)", flush=True)
        results[name] = {"title": b.title, "seconds": round(seconds, 2), "steal_percent": stolen,
                         "reference_ms_after": reference_ms, "rows": rows}

    out = Path(os.environ.get("BENCH_JSON") or "bench-results.json")
    report = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick,
              "machine": machine, "benches": results}
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nFigures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
