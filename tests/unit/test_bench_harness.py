"""The benchmark runner: registration, the printed table and the JSON it writes."""
from __future__ import annotations

import json

import pytest

from bench import BENCHES, bench, percentile, time_each
from bench.__main__ import main
from bench.machine import cpu_ticks, speed_reference, steal_percent


@pytest.fixture
def toy_bench():
    @bench("toy", "A bench that counts")
    def run(quick: bool) -> list[dict]:
        figures = time_each(lambda n: sum(range(n)), [10, 100, 1000])
        return [{"size": 3 if quick else 30, "method": "sum", **figures}]

    yield run
    del BENCHES["toy"]


def test_runner_prints_a_table_and_writes_figures_with_the_machine(toy_bench, tmp_path, monkeypatch, capsys):
    out = tmp_path / "results.json"
    monkeypatch.setenv("BENCH_JSON", str(out))
    assert main(["--quick", "toy"]) == 0
    printed = capsys.readouterr().out
    assert "== toy: A bench that counts" in printed and "p99_us" in printed
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["timestamp"]
    assert {"cpu", "cores", "memory_gib", "os", "python", "packages"} <= set(report["machine"])
    assert report["machine"]["reference_ms"] > 0 and "speed reference" in printed
    toy = report["benches"]["toy"]
    assert toy["reference_ms_after"] > 0 and "steal_percent" in toy
    (row,) = toy["rows"]
    assert row["size"] == 3 and row["events"] == 3 and row["p50_us"] <= row["p99_us"]


def test_bare_run_skips_studies_that_must_be_named(monkeypatch, tmp_path):
    registry: dict = {}  # an empty registry, so that the real (long) benches stay out of it
    monkeypatch.setattr("bench.BENCHES", registry)
    monkeypatch.setattr("bench.__main__.BENCHES", registry)
    monkeypatch.setattr("bench.__main__.discover", lambda: None)
    monkeypatch.setenv("BENCH_JSON", str(tmp_path / "r.json"))
    ran = []
    bench("regular", "runs by default")(lambda quick: ran.append("regular") or [])
    bench("study", "runs when named", default=False)(lambda quick: ran.append("study") or [])
    main(["--quick"])
    assert ran == ["regular"]
    main(["--quick", "study"])
    assert ran == ["regular", "study"]


def test_unknown_bench_is_refused(toy_bench):
    with pytest.raises(SystemExit):
        main(["no-such-bench"])


def test_a_name_registers_once(toy_bench):
    with pytest.raises(ValueError):
        bench("toy", "again")(lambda quick: [])


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([7], 99) == 7


def test_the_speed_reference_is_cpu_time_of_fixed_work(monkeypatch):
    assert speed_reference(times=1) > 0
    clock = iter([0.0, 0.090, 1.0, 1.050, 2.0, 2.070])  # three runs of 90, 50 and 70 ms: the best is kept
    monkeypatch.setattr("bench.machine.time.process_time", lambda: next(clock))
    monkeypatch.setattr("bench.machine._reference_work", lambda: 0)
    assert speed_reference(times=3) == 50.0


def test_stolen_share_between_two_readings():
    assert steal_percent((1000, 10), (3000, 210)) == 10.0
    assert steal_percent(None, (3000, 210)) is None and steal_percent((1000, 10), (1000, 10)) is None
    ticks = cpu_ticks()
    if ticks is not None:  # Linux
        total, stolen = ticks
        assert 0 <= stolen <= total
