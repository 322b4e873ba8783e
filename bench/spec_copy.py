"""Write one spec of an original spec file as JSON with meta.max_session changed; print its path.

Used by bench/original.sh (SESSIONS=2) for cells whose 4 sessions would take over an hour on 2 cores:
every other key is the file's own.
    uv run python bench/spec_copy.py FILE SPEC_NAME SESSIONS OUT_DIR
"""

import json
import sys
from pathlib import Path

import yaml


def main(file: str, name: str, sessions: str, out: str) -> None:
    text = Path(file).read_text()
    specs = json.loads(text) if file.endswith(".json") else yaml.safe_load(text)
    spec = specs[name]
    spec["meta"]["max_session"] = int(sessions)
    path = Path(out).resolve() / f"{name}.json"
    path.write_text(json.dumps({name: spec}, indent=2))
    print(path)


if __name__ == "__main__":
    main(*sys.argv[1:])
