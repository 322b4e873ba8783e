"""Same seed, same table: run short seeded sessions of shipped specs with two checkouts of the lab
and compare their session tables, every column but the timing ones.

    uv run python scripts/same_seed.py BEFORE_CHECKOUT AFTER_CHECKOUT

Each checkout needs its own synced .venv. Exit code 0 when every table matches, 1 otherwise.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

SEED = 42
TIMING = {"wall_t", "fps"}
RUNS = {  # spec file, spec name, frames
    "ppo_cartpole": ("ppo/ppo_cartpole.json", 20_000),
    "dqn_cartpole": ("dqn/dqn_cartpole.json", 20_000),
    "sac_pendulum": ("sac/sac_pendulum.json", 4_000),
}


def short_spec(checkout: Path, file: str, name: str, frames: int, out: Path) -> Path:
    spec = json.loads((checkout / "slm_lab/spec/benchmark" / file).read_text())[name]
    spec["env"]["max_frame"] = frames
    spec["meta"]["max_session"] = 1
    spec["meta"]["random_seed"] = SEED
    path = out / f"{name}.json"
    path.write_text(json.dumps({name: spec}))
    return path


def table(checkout: Path, name: str, spec: Path, cwd: Path) -> pd.DataFrame:
    cmd = [str(checkout / ".venv/bin/slm-lab"), "run", str(spec), name, "train"]
    subprocess.run(
        cmd, cwd=cwd, check=True, capture_output=True, env={**os.environ, "SLM_LAB_PNG": "0"}
    )
    (csv,) = (cwd / "data").glob(f"*/info/{name}_t0_s0_session_df_train.csv")
    return pd.read_csv(csv)


def compare(before: pd.DataFrame, after: pd.DataFrame) -> list[str]:
    """What differs between the two tables, ignoring timing columns."""
    cols_b, cols_a = set(before.columns) - TIMING, set(after.columns) - TIMING
    problems = [f"columns only before: {sorted(cols_b - cols_a)}"] if cols_b - cols_a else []
    problems += [f"columns only after: {sorted(cols_a - cols_b)}"] if cols_a - cols_b else []
    common = sorted(cols_b & cols_a)
    if len(before) != len(after):
        return [*problems, f"rows: {len(before)} before, {len(after)} after"]
    for col in common:
        b, a = before[col], after[col]
        same = (b == a) | (b.isna() & a.isna())
        if not same.all():
            row = int((~same).idxmax())
            problems.append(f"{col} differs from row {row}: {b[row]} vs {a[row]}")
    return problems


def main(before: Path, after: Path) -> int:
    failed = 0
    for name, (file, frames) in RUNS.items():
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            tables = []
            for checkout, label in ((before, "before"), (after, "after")):
                cwd = tmp / label
                cwd.mkdir()
                tables.append(
                    table(checkout, name, short_spec(checkout, file, name, frames, cwd), cwd)
                )
            problems = compare(*tables)
        shown = f"{len(tables[1])} rows x {len(set(tables[1].columns) - TIMING)} columns"
        print(f"{name} ({frames:,} frames): " + ("identical, " + shown if not problems else ""))
        for p in problems:
            print(f"  {p}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
