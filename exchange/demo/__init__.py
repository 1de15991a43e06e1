"""Demo data: a believable exchange around Cahors (Lot), deterministic, for `make run` and benchmarks."""
