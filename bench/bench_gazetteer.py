"""Gazetteer timings: load and index builds in ms, then lookups in µs (median, p99, max over inputs).

    python bench/bench_gazetteer.py            # prints one JSON object
"""
from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange.geo import gazetteer  # noqa: E402


def timed(fn, args_list, repeat: int = 3) -> dict[str, float]:
    """Per input, the best of `repeat` calls (other processes on the machine only add noise)."""
    samples = []
    for args in args_list:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            fn(*args)
            best = min(best, time.perf_counter() - start)
        samples.append(best * 1e6)
    samples.sort()
    return {"median_us": round(statistics.median(samples), 1),
            "p99_us": round(samples[int(len(samples) * 0.99)], 1),
            "max_us": round(samples[-1], 1), "inputs": len(samples)}


def main() -> None:
    results: dict[str, object] = {}
    start = time.perf_counter()
    gazetteer.load()
    results["load_ms"] = round((time.perf_counter() - start) * 1e3, 1)
    start = time.perf_counter()
    gazetteer._data().names()
    results["name_index_ms"] = round((time.perf_counter() - start) * 1e3, 1)
    start = time.perf_counter()
    gazetteer._data().grid()
    results["grid_ms"] = round((time.perf_counter() - start) * 1e3, 1)

    communes = gazetteer.communes()
    rng = random.Random(46042)
    sample = rng.sample(communes, 500)
    # Cold short prefixes first: the first search for "s" sorts thousands of candidates.
    letters = [(ch,) for ch in "abcdefghijklmnopqrstuvwxyz"]
    results["search_first_letter_cold"] = timed(gazetteer.search, letters, repeat=1)
    results["search_first_letter_warm"] = timed(gazetteer.search, letters)
    results["by_postcode"] = timed(gazetteer.by_postcode, [(c.postcodes[0],) for c in sample])
    results["by_insee"] = timed(gazetteer.by_insee, [(c.insee,) for c in sample])
    results["resolve"] = timed(gazetteer.resolve, [(c.postcodes[0], c.name) for c in sample
                                                    if c.insee not in ("75056", "69123", "13055")])
    results["search_full_name"] = timed(gazetteer.search, [(c.name,) for c in sample])
    results["search_name_prefix_4"] = timed(gazetteer.search, [(c.name[:4],) for c in sample])
    results["search_postcode_prefix_3"] = timed(gazetteer.search, [(c.postcodes[0][:3],) for c in sample])
    points = [(rng.uniform(42.5, 50.5), rng.uniform(-4.0, 7.5)) for _ in range(500)]
    results["nearest"] = timed(gazetteer.nearest, points)
    results["communes"] = len(communes)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
