"""Small helpers: run folders, .env files."""

import errno
import os
import re

import pytest

from slm_lab.lib import util
from slm_lab.lib.errors import DiskFull
from slm_lab.lib.run_paths import new_folder
from test.full_disk import FullAfter


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    first, stamp_a = new_folder(tmp_path / "data", "ppo")
    second, stamp_b = new_folder(tmp_path / "data", "ppo")
    assert first != second and first.is_dir() and second.is_dir()
    assert stamp_b > stamp_a  # the second waited for the next second: names stay as users expect
    assert re.fullmatch(r"ppo_\d{4}_\d{2}_\d{2}_\d{6}", second.name)
    assert second.name == f"ppo_{stamp_b}"


def test_env_file_fills_what_the_environment_lacks(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text(
        "# HuggingFace\n"
        "export HF_REPO=me/runs\n"
        "HF_TOKEN='hf_secret'\n"
        'SLM_TEST_QUOTED="a b"\n'
        "SLM_TEST_SET=from_file\n"
        "not a line\n"
        "1BAD=x\n"
    )
    for key in ("HF_REPO", "HF_TOKEN", "SLM_TEST_QUOTED"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SLM_TEST_SET", "from_env")
    assert util.load_env_file(env) == ["HF_REPO", "HF_TOKEN", "SLM_TEST_QUOTED"]
    assert os.environ["HF_REPO"] == "me/runs" and os.environ["HF_TOKEN"] == "hf_secret"
    assert os.environ["SLM_TEST_QUOTED"] == "a b" and os.environ["SLM_TEST_SET"] == "from_env"
    assert "1BAD" not in os.environ
    assert util.load_env_file(tmp_path / "missing") == []


def test_a_write_on_a_full_disk_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    util.write_atomic(path, "old\n")
    monkeypatch.setattr(util, "open", FullAfter(lambda name: True, 1).open, raising=False)
    with pytest.raises(DiskFull) as caught:
        util.write_atomic(path, "new\n" * 100)
    assert caught.value.path == path and caught.value.need == 400
    assert caught.value.free is not None
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    assert path.read_text() == "old\n"


def test_no_space_is_found_through_wrapping_errors():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos") from None
    except RuntimeError as e:  # torch.save's error, its context the OSError
        assert util.no_space(e)
    assert not util.no_space(OSError(errno.EACCES, "Permission denied"))
    assert not util.no_space(None)
