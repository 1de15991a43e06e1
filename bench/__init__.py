"""Carreau's benchmarks: `python -m bench [--quick] [names...]` (also `make bench`).

Speed targets are checked here, never by timed tests. A bench is a function registered with
`@bench("name", "what it measures")` in any module of this package (`default=False` for a long
study that runs only when named); it takes `quick` (a smaller run for CI or a first look) and
returns rows of figures (dicts of the same keys), which the runner
prints as a table and writes to $BENCH_JSON (default bench-results.json) with a description of
the machine.
"""
from __future__ import annotations

import gc
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Bench:
    name: str
    title: str
    run: Callable[[bool], list[Row]]
    default: bool = True  # run when no names are given


BENCHES: dict[str, Bench] = {}


def bench(name: str, title: str, *, default: bool = True
          ) -> Callable[[Callable[[bool], list[Row]]], Callable[[bool], list[Row]]]:
    """Register a benchmark under name; `python -m bench name` runs it, and so does a bare
    `python -m bench` unless default=False (for long studies rather than regular figures)."""
    def register(fn: Callable[[bool], list[Row]]) -> Callable[[bool], list[Row]]:
        if name in BENCHES:
            raise ValueError(f"bench {name!r} registered twice")
        BENCHES[name] = Bench(name, title, fn, default)
        return fn
    return register


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (p in 0-100)."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def time_interleaved(fns: dict[str, Callable[[Any], Any]], items: Iterable[Any]) -> dict[str, Row]:
    """Time several ways of doing the same thing taking turns, each on every item once (`time_each` figures).

    On a machine whose speed drifts (other work, caches, frequency), timing A over all items and
    then B favours whichever ran in the quieter minute; taking turns gives both the same conditions.
    At each turn the rivals work on items far apart in the list, so that none inherits caches that
    another has just warmed on the same item (rivals often share the data they look at). And the
    rivals take their turns in a new (seeded) random order each time, so that each runs right after
    each other about equally often: whoever follows a slow, memory-hungry rival finds the caches
    cold (the numpy watch index spends about 200 µs more CPU right after a naive scan or an SQLite
    query than right after another index), and a fixed order, or a rotation of it, would charge
    that to the same rival every time.
    """
    items = list(items)
    names = list(fns)
    stride = max(1, len(items) // len(names))
    samples: dict[str, list[tuple[int, int]]] = {name: [] for name in names}
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    gc.collect()
    offset = {name: k for k, name in enumerate(names)}
    rng = random.Random(0)
    for i in range(len(items)):
        order = names[:]
        rng.shuffle(order)
        for name in order:  # each rival still gets every item once, at its own offset
            fn, item = fns[name], items[(i + offset[name] * stride) % len(items)]
            w0, c0 = wall(), cpu()
            fn(item)
            c1, w1 = cpu(), wall()
            samples[name].append((w1 - w0, c1 - c0))
    return {name: _figures([w for w, _ in pairs], [c for _, c in pairs]) for name, pairs in samples.items()}


def time_each(fn: Callable[[Any], Any], items: Iterable[Any]) -> Row:
    """Call fn once per item; wall and CPU time per call (p50/p99/mean in µs) and calls per second.

    Wall time is the latency a caller sees, including any time the machine gave to other
    processes; this thread's CPU time is not inflated that way, so on a shared machine the two
    together tell the code's own cost from the neighbours' noise.
    """
    return time_interleaved({"": fn}, items)[""]


def _figures(wall_ns: list[int], cpu_ns: list[int]) -> Row:
    wall_ns, cpu_ns = sorted(wall_ns), sorted(cpu_ns)
    total_s = sum(wall_ns) / 1e9
    return {
        "p50_us": percentile(wall_ns, 50) / 1e3,
        "p99_us": percentile(wall_ns, 99) / 1e3,
        "mean_us": total_s / len(wall_ns) * 1e6,
        "per_s": len(wall_ns) / total_s if total_s else math.inf,
        "cpu_p50_us": percentile(cpu_ns, 50) / 1e3,
        "cpu_p99_us": percentile(cpu_ns, 99) / 1e3,
        "cpu_mean_us": sum(cpu_ns) / len(cpu_ns) / 1e3,
        "events": len(wall_ns),
    }
