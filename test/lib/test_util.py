"""Small helpers: run folders."""

import re

from slm_lab.lib.util import new_folder


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    first, stamp_a = new_folder(tmp_path / "data", "ppo")
    second, stamp_b = new_folder(tmp_path / "data", "ppo")
    assert first != second and first.is_dir() and second.is_dir()
    assert stamp_b > stamp_a  # the second waited for the next second: names stay as users expect
    assert re.fullmatch(r"ppo_\d{4}_\d{2}_\d{2}_\d{6}", second.name)
    assert second.name == f"ppo_{stamp_b}"
