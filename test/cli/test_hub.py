"""push, pull, list and --upload-hf through the CLI, against a local stand-in for the HuggingFace
Hub (test/lib/hub_store.py): huggingface_hub runs as it does for users, only its server is local."""

import hashlib
from pathlib import Path

import pytest

from test.conftest import run_cli, run_dirs, tiny_ppo, write_spec
from test.lib.hub_store import TOKEN, HubServer

# every test shares one pushed training run: the slow step (CI's minimal install also pushes,
# lists and pulls against the same Hub stand-in)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hub")]

REPO = "me/runs"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    """One server for the module: tests look at the commits they add, not at a count."""
    with HubServer(tmp_path_factory.mktemp("store")) as server:
        yield server


def hub_env(hub: HubServer, home: Path, **extra: str) -> dict[str, str]:
    return {
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TOKEN,
        "HF_REPO": REPO,
        "HF_HOME": str(home),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        **extra,
    }


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory, hub: HubServer) -> tuple[Path, Path, dict]:
    """A real 2-session run, uploaded at its end with --upload-hf (the module's first commit)."""
    work = tmp_path_factory.mktemp("work")
    path = write_spec(work, {"tiny": tiny_ppo(max_session=2)})
    env = hub_env(hub, tmp_path_factory.mktemp("home"))
    result = run_cli("run", str(path), "tiny", "train", "--upload-hf", cwd=work, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = run_dirs(work)
    return work, run, env


def test_upload_hf_pushes_the_run_without_resume_state(pushed, hub: HubServer):
    _, run, _ = pushed
    commit = hub.store.commits[0]
    local = sorted(digests(run))
    expected = [p for p in local if not p.endswith("_resume.pt")]
    assert any(p.endswith("_resume.pt") for p in local)  # kept locally, not sent
    base = f"data/{run.name}/"
    assert commit == {
        "repo": REPO,
        "paths": sorted([base + p for p in expected] + [base + "README.md"]),
    }
    stored = hub.store.repo(REPO) / "data" / run.name
    differ = [p for p in expected if (stored / p).read_bytes() != (run / p).read_bytes()]
    assert differ == ["log/tiny_t0.log"]  # the trial's log goes on: "pushed ..." is its last line
    sent, now = (stored / differ[0]).read_text(), (run / differ[0]).read_text()
    assert now.startswith(sent) and "pushed" in now[len(sent) :]
    assert not (run / "README.md").exists()  # the card is made for the upload only


def test_the_readme_card_names_score_and_reproduce_command(pushed, hub: HubServer):
    work, run, _ = pushed
    readme = (hub.store.repo(REPO) / "data" / run.name / "README.md").read_text()
    metrics = (run / "tiny_t0_trial_metrics_scalar.json").read_text()
    score = float(metrics.split('"total_reward_ma": ')[1].split(",")[0])
    assert f"| {score:.2f} | 2,000/2,000 | 1 | 2/2 | finished |" in readme
    assert f"slm-lab run {work / 'spec.json'} tiny train" in readme
    assert "PPO on `CartPole-v1`" in readme
    assert "[Trial graph](graph/tiny_t0_trial_graph.html)" in readme  # no PNG in this run


def test_push_with_resume_sends_the_checkpoints_to_another_repo(pushed, hub: HubServer):
    work, run, env = pushed
    result = run_cli("push", str(run), "--repo", "me/other", "--with-resume", cwd=work, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        result.stdout.strip()
        == f"pushed {len(digests(run)) + 1} files to me/other: data/{run.name}"
    )
    paths = hub.store.commits[-1]["paths"]
    assert hub.store.commits[-1]["repo"] == "me/other"
    assert {f"data/{run.name}/model/tiny_t0_s{s}_resume.pt" for s in (0, 1)} <= set(paths)


def test_list_and_pull_restore_the_folder_byte_for_byte(pushed, hub: HubServer, tmp_path: Path):
    _, run, env = pushed
    listed = run_cli("list", cwd=tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    sent = [p for p in digests(run) if not p.endswith("_resume.pt")]
    assert listed.stdout.split() == [run.name, str(len(sent) + 1), "files"]  # + README.md
    assert run_cli("list", "other_*", cwd=tmp_path, **env).stdout.strip() == (
        f"no run folders in {REPO} match 'other_*'"
    )
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    preview = run_cli("pull", "tiny", "--list", cwd=laptop, **env)
    assert preview.stdout.strip() == f"would pull data/{run.name}"
    stamp = run.name.removeprefix("tiny_")[:7]  # the original's `pull -l`, substring of a name
    for pattern in (f"tiny_{stamp}", f"data/{run.name[:6]}", "iny"):
        original = run_cli("pull", pattern, "-l", cwd=laptop, **env)
        assert original.stdout.strip() == f"would pull data/{run.name}", pattern
    assert not (laptop / "data" / run.name).exists()
    pulled = run_cli("pull", "tiny", cwd=laptop, **env)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip() == f"pulled data/{run.name}"
    assert digests(laptop / "data" / run.name) == digests(hub.store.repo(REPO) / "data" / run.name)
    assert sorted(p.name for p in (laptop / "data").iterdir()) == [run.name]  # no staging left
    again = run_cli("pull", "tiny", cwd=laptop, **env)
    assert again.stdout.strip() == "nothing new matches 'tiny'"
    assert f"{run.name}: already in data, skipped" in again.stderr


def test_env_file_supplies_what_the_environment_lacks(pushed, hub: HubServer, tmp_path: Path):
    """A .env in the working directory is read (export lines too), never over the environment."""
    _, run, env = pushed
    folder = tmp_path / "dotenv"
    folder.mkdir()
    (folder / ".env").write_text(f"# results\nexport HF_REPO=me/fromfile\nHF_TOKEN='{TOKEN}'\n")
    bare = {k: v for k, v in env.items() if k not in ("HF_REPO", "HF_TOKEN")}
    result = run_cli("push", str(run), cwd=folder, **bare)
    assert result.returncode == 0, result.stderr[-3000:]
    assert hub.store.commits[-1]["repo"] == "me/fromfile"
    result = run_cli("push", str(run), cwd=folder, **bare, HF_REPO="me/fromenv")
    assert result.returncode == 0, result.stderr[-3000:]
    assert hub.store.commits[-1]["repo"] == "me/fromenv"


@pytest.mark.parametrize(
    ("args", "env_change", "code", "message"),
    [
        (("list",), {"HF_REPO": ""}, 2, "no dataset repo: set HF_REPO=owner/name"),
        (("list", "--repo", "justaname"), {}, 2, "'justaname' is not a repo id"),
        (
            ("push", "RUN"),
            {"HF_TOKEN": "", "HF_HOME": "EMPTY"},
            2,
            "pushing needs a HuggingFace token",
        ),
        (("push", "RUN"), {"HF_TOKEN": "hf_wrong"}, 1, "the token was refused (check HF_TOKEN)"),
        (
            ("list", "--repo", "me/none"),
            {},
            1,
            "the repo does not exist or the token cannot see it",
        ),
    ],
)
def test_hub_errors_are_one_line_and_touch_nothing(
    pushed, hub: HubServer, tmp_path: Path, args, env_change, code, message
):
    work, run, env = pushed
    before = digests(run)
    commits = len(hub.store.commits)
    args = tuple(str(run) if a == "RUN" else a for a in args)
    changed = {
        k: str(tmp_path / "empty_home") if v == "EMPTY" else v for k, v in env_change.items()
    }
    result = run_cli(*args, cwd=work, **{**env, **changed})
    assert result.returncode == code, result.stderr[-3000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert message in line
    assert digests(run) == before and len(hub.store.commits) == commits


def test_a_server_error_is_retried(pushed, hub: HubServer):
    work, run, env = pushed
    hub.store.fail_next = 1
    result = run_cli("push", str(run), cwd=work, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "server error 503; retrying in 2 s (1/3)" in result.stderr
    assert hub.store.commits[-1]["paths"][0].startswith(f"data/{run.name}/")
