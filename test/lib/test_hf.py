"""slm_lab.lib.hf in process: what a push sends, the card, folder matching, retries and a pull
that fails halfway, against the local Hub stand-in (test/lib/hub_store.py)."""

import shutil
from pathlib import Path

import pytest

from slm_lab.experiment.compare import card
from slm_lab.lib import hf
from slm_lab.lib.errors import DiskFull, UsageError
from test.full_disk import FullFile
from test.lib.hub_store import TOKEN, HubServer

FIXTURE = Path(__file__).parent.parent / "fixtures" / "runs" / "tiny_2026_11_26_171159"
REPO = "me/runs"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with HubServer(tmp_path / "store") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("HF_REPO", REPO)
        monkeypatch.setattr(hf, "BACKOFF_S", 0.0)
        yield server


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """The fixture run folder with what a finished run also holds: models, a resume checkpoint,
    Tune state, graphs, a hidden file."""
    run = tmp_path / "data" / FIXTURE.name
    shutil.copytree(FIXTURE, run)
    for name in ("model/tiny_t0_s0_actor_model.pt", "model/tiny_t0_s0_resume.pt", "ray/t/x.json"):
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(b"weights")
    (run / "graph").mkdir()
    (run / "graph" / "tiny_t0_trial_graph.png").write_bytes(b"png")
    (run / ".DS_Store").write_bytes(b"")
    return run


def test_upload_paths_leave_out_resume_state_unless_asked(run: Path):
    plain = hf.upload_paths(run, resume=False)
    assert plain == [
        "graph/tiny_t0_trial_graph.png",
        "info/tiny_t0_s0_session_df_eval.csv",
        "info/tiny_t0_s0_session_df_train.csv",
        "model/tiny_t0_s0_actor_model.pt",
        "tiny_spec.json",
        "tiny_t0_spec.json",
    ]
    resumable = hf.upload_paths(run, resume=True)
    assert sorted(set(resumable) - set(plain)) == ["model/tiny_t0_s0_resume.pt", "ray/t/x.json"]


def test_card_shows_the_png_graph_when_there_is_one(run: Path):
    text = card(run)
    assert text.startswith("---\ntags: [reinforcement-learning, slm-lab, ppo]\n---\n")
    assert f"# {FIXTURE.name}" in text and "![tiny](graph/tiny_t0_trial_graph.png)" in text
    assert "| n/a | 2,000/2,000 | 1 | 0/1 | unfinished |" in text  # no metrics files yet


@pytest.mark.parametrize(
    ("folder", "pattern", "expected"),
    [
        ("ppo_lunar_2026_01_02_030405", "ppo_lunar", True),
        ("ppo_lunar_search_2026_01_02_030405", "ppo_lunar", False),  # another spec's runs
        ("ppo_lunar_search_2026_01_02_030405", "ppo_lunar*", True),
        ("ppo_lunar_2026_01_02_030405", "ppo_lunar_2026_01_02_030405", True),
        ("ppo_lunar_2026_01_02_030405", None, True),
        ("dqn_pong_2026_01_02_030405", "*lunar*", False),
    ],
)
def test_pull_patterns(folder: str, pattern: str | None, expected: bool):
    assert hf.matches(folder, pattern) is expected


def test_a_push_retries_server_errors_then_names_what_failed(hub: HubServer, run: Path):
    hub.store.fail_next = 1  # create_repo, which the client does not retry itself
    hf.push(run, None, card)
    assert hub.store.requests.count("POST /api/repos/create") == 2
    assert hub.store.commits[-1]["repo"] == REPO
    hub.store.fail_next = 100
    with pytest.raises(hf.HubError, match=r"creating me/runs: server error 503 after 3 tries"):
        hf.push(run, None, card)
    assert len(hub.store.commits) == 1


def test_no_server_is_a_network_error_after_retries(run: Path, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(hf, "BACKOFF_S", 0.0)
    with pytest.raises(hf.HubError, match=r"creating me/runs: ConnectError.*after 3 tries"):
        hf.push(run, REPO, card)


def test_a_pull_that_fails_halfway_leaves_no_folder(hub: HubServer, run: Path, tmp_path: Path):
    hf.push(run, None, card)
    hub.store.lost.add(f"data/{run.name}/tiny_t0_spec.json")
    laptop = tmp_path / "laptop" / "data"
    with pytest.raises(hf.HubError, match="pulling from me/runs: HTTP 404"):
        hf.pull("tiny", None, laptop)
    assert list(laptop.iterdir()) == []  # no half folder, no staging folder
    hub.store.lost.clear()
    assert hf.pull("tiny", None, laptop) == [run.name]
    assert (laptop / run.name / "tiny_t0_spec.json").read_bytes() == (
        run / "tiny_t0_spec.json"
    ).read_bytes()


def test_repo_and_token_are_asked_for_before_anything(monkeypatch, run: Path, tmp_path: Path):
    monkeypatch.delenv("HF_REPO", raising=False)
    with pytest.raises(UsageError, match="no dataset repo: set HF_REPO=owner/name"):
        hf.push(run, None, card)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    with pytest.raises(UsageError, match="pushing needs a HuggingFace token"):
        hf.push(run, REPO, card)


def test_a_file_gone_between_listing_and_reading_is_left_out(
    hub: HubServer, run: Path, monkeypatch: pytest.MonkeyPatch
):
    """A running lab renames and deletes files while the remote job pushes: a listed file that is
    gone by the time it is read is skipped, the rest go in one commit."""
    gone = run / "model" / "tiny_t0_s0_actor_model.pt"
    listed = hf.upload_paths(run, resume=True)
    monkeypatch.setattr(hf, "upload_paths", lambda *_: listed)
    gone.unlink()
    paths = hf.push(run, None, card, resume=True)
    assert f"data/{run.name}/model/tiny_t0_s0_resume.pt" in paths
    assert not any(p.endswith("tiny_t0_s0_actor_model.pt") for p in paths)
    assert len(hub.store.commits) == 1


def test_a_pull_onto_a_full_disk_leaves_nothing(
    hub: HubServer, run: Path, tmp_path: Path, monkeypatch
):
    """The download's file writes fail with ENOSPC: DiskFull, and no staging folder is left."""
    from huggingface_hub import file_download

    hf.push(run, None, card)
    real = file_download.http_get
    monkeypatch.setattr(
        file_download, "http_get", lambda url, temp, **kw: real(url, FullFile(temp), **kw)
    )
    laptop = tmp_path / "laptop" / "data"
    with pytest.raises(DiskFull, match=r"could not write .*\.pull-\d+ \("):
        hf.pull("tiny", None, laptop)
    assert list(laptop.iterdir()) == []
