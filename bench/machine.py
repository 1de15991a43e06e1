"""What machine a benchmark ran on, so figures from different runs can be compared fairly."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

KEY_PACKAGES = ["h3", "geopy", "SQLAlchemy", "Flask", "Flask-SocketIO", "Flask-SQLAlchemy"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _reference_work() -> int:
    """A fixed piece of plain Python work, of the kinds a request does (dicts, strings, JSON, sorting)."""
    rows = [{"id": i, "product": f"pommes {i % 97}", "price_cents": (i * 37) % 1000, "km": i % 50 / 3}
            for i in range(20_000)]
    text = json.dumps(rows)
    rows = json.loads(text)
    rows.sort(key=lambda row: (row["km"], row["price_cents"], row["product"]))
    return sum(len(row["product"]) for row in rows) + len(text)


def speed_reference(times: int = 5) -> float:
    """Milliseconds of CPU the fixed work of `_reference_work` takes, best of `times`: how fast this machine runs
    Python now. Machines of the same description differ (the same code measured ×3 apart on two of them), so a
    figure is compared with another only through the references the two runs measured."""
    best = float("inf")
    for _ in range(times):
        started = time.process_time()
        _reference_work()
        best = min(best, time.process_time() - started)
    return round(best * 1e3, 1)


def cpu_ticks() -> tuple[int, int] | None:
    """(all, stolen) CPU ticks of the machine since boot, from /proc/stat; None where it is missing. Stolen ticks
    are time the hypervisor gave another guest while this one had work: a neighbour's load, not ours."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(n) for n in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 8:
        return None
    return sum(fields[:8]), fields[7]  # user nice system idle iowait irq softirq steal (guest is within user)


def steal_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of the machine's CPU time stolen by the hypervisor between two `cpu_ticks()` readings."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    return round(100 * (after[1] - before[1]) / (after[0] - before[0]), 2)


def describe() -> dict:
    """CPU, cores, memory, OS, Python and key package versions, commit, load average, and the speed reference."""
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "packages": packages,
        "commit": _git_commit(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "reference_ms": speed_reference(),
    }
