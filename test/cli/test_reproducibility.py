"""The same spec and seed give the same session tables on the CPU (every column but the clock's)."""

from pathlib import Path

import pandas as pd
import pytest

from test.conftest import run_cli, run_dirs, tiny_dqn, tiny_ppo, tiny_sac, write_spec

SEED = 7
CLOCK_COLUMNS = ["wall_t", "fps"]
BUILDERS = {"ppo": tiny_ppo, "dqn": tiny_dqn, "sac": tiny_sac}


def tables(cwd: Path, name: str) -> list[pd.DataFrame]:
    out = []
    for run in run_dirs(cwd):
        csv = run / "info" / f"{name}_t0_s0_session_df_train.csv"
        out.append(pd.read_csv(csv, dtype=str).drop(columns=CLOCK_COLUMNS))
    return out


@pytest.mark.slow  # two full CLI runs each (15-25 s): the slow step
@pytest.mark.parametrize("name", BUILDERS)
def test_same_seed_gives_identical_tables(tmp_path: Path, name: str):
    raw = BUILDERS[name]()
    raw["meta"]["random_seed"] = SEED
    path = write_spec(tmp_path, {name: raw})
    for _ in range(2):
        result = run_cli("run", str(path), name, "train", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
    first, second = tables(tmp_path, name)
    assert len(first) > 1 and first["opt_step"].iloc[-1] != "0"
    pd.testing.assert_frame_equal(first, second)  # compared as text, column by column
