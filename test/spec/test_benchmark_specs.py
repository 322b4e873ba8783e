"""Every shipped benchmark spec validates strictly (no unknown keys) and builds its env and agent."""

from pathlib import Path

import pytest

from slm_lab.experiment.control import preflight
from slm_lab.spec.loader import load_spec

BENCHMARK = Path(__file__).parents[2] / "slm_lab" / "spec" / "benchmark"
FILES = sorted(BENCHMARK.glob("*/*.json"))


@pytest.mark.parametrize("file", FILES, ids=[f.stem for f in FILES])
def test_benchmark_spec_builds(file: Path):
    loaded = load_spec(str(file), file.stem, strict=True)
    preflight(loaded.spec)
    assert loaded.spec["meta"]["max_session"] == 4
    assert loaded.spec["env"]["max_frame"] >= 200_000
