"""Every spec entry of every spec file under a folder (such as the original repository's
`slm_lab/spec/`), loaded and a shortened copy trained in dev mode, as the slow corpus test does
for the fixtures; prints one line per entry (OK, REFUSED with the one-line error, CRASH with the
traceback's end) and the counts.

    uv run python bench/original_survey.py PATH [--skip benchmark benchmark_arc]
"""

import argparse
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from test import corpus  # the repository root first

SUFFIXES = (".json", ".yaml", ".yml")


def spec_files(root: Path, skip: list[str]) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in SUFFIXES and not p.name.startswith("_") and not set(skip) & set(p.parts)
    )


def train_short(file: Path, name: str) -> str:
    from slm_lab.experiment.run import open_run, run_trial
    from slm_lab.spec import load_spec

    loaded = load_spec(file, name, corpus.sets_for(file))
    short = corpus.shorten(loaded.spec)
    with tempfile.TemporaryDirectory() as tmp:
        spec, ctx = open_run(short, loaded.file, "dev", False, "ERROR", Path(tmp))
        return f"{run_trial(spec, ctx)['frame']:.0f} frames"


def outcome(file: Path, name: str) -> tuple[str, str]:
    from slm_lab.lib.errors import LabError

    try:
        return "OK", train_short(file, name)
    except LabError as e:
        return "REFUSED", str(e)
    except Exception:  # a crash is what this survey looks for
        return "CRASH", traceback.format_exc(limit=-3)


def main() -> None:
    from slm_lab.spec.loader import parse, read_text, spec_names

    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--skip", nargs="*", default=["benchmark", "benchmark_arc"])
    args = parser.parse_args()
    counts: Counter = Counter()
    for file in spec_files(args.root, args.skip):
        rel = file.relative_to(args.root)
        try:
            names = spec_names(parse(read_text(file), file))
        except Exception as e:  # a file the loader cannot read is a finding too
            print(f"UNREADABLE {rel}: {e}", flush=True)
            counts["UNREADABLE"] += 1
            continue
        for name in names:
            kind, detail = outcome(file, name)
            counts[kind] += 1
            print(f"{kind} {rel}:{name} | {detail}", flush=True)
    print(dict(counts))


if __name__ == "__main__":
    main()
