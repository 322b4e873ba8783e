"""Secrets from the environment (HF_TOKEN, *_API_KEY...) never reach logs, saved files or errors."""

import json
import os
import secrets
import string
from pathlib import Path

import pytest

from slm_lab.lib import logger as lab_logger
from slm_lab.lib.logger import logger
from slm_lab.lib.redact import MASK, is_secret_name, redact
from slm_lab.lib.util import write_json
from slm_lab.spec import SpecError
from test.conftest import run_cli, run_dirs, tiny_ppo, write_spec

ALPHABET = string.ascii_letters + string.digits


def new_token() -> str:
    return "hf_" + "".join(secrets.choice(ALPHABET) for _ in range(20))


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    value = new_token()
    monkeypatch.setenv("HF_TOKEN", value)
    return value


@pytest.fixture
def restore_logger():
    yield
    lab_logger.setup()  # close the test's log file; back to the default stderr sink


@pytest.mark.parametrize(
    "name", ["HF_TOKEN", "GITHUB_TOKEN", "AWS_SECRET", "OPENAI_API_KEY", "DB_PASSWORD", "hf_token"]
)
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["HOME", "TOKEN", "TOKENS", "API_KEY_FILE", "SECRET_PATH", "PATH"])
def test_other_names_are_not_secret(name):
    assert not is_secret_name(name)


def test_redact_replaces_every_secret_value(monkeypatch, token):
    monkeypatch.setenv("WANDB_API_KEY", "0123456789abcdef")
    text = f"token={token} key=0123456789abcdef again {token}"
    assert redact(text) == f"token={MASK} key={MASK} again {MASK}"


def test_redact_reads_the_environment_at_call_time(monkeypatch):
    value = new_token()
    assert redact(value) == value
    monkeypatch.setenv("MY_SECRET", value)
    assert redact(value) == MASK
    monkeypatch.delenv("MY_SECRET")
    assert redact(value) == value


def test_short_and_non_secret_values_are_left_alone(monkeypatch):
    monkeypatch.setenv("SHORT_TOKEN", "abc1234")  # 7 chars: too likely an ordinary word
    monkeypatch.setenv("PLAIN_SETTING", "hf_notasecret_value")
    text = "abc1234 hf_notasecret_value"
    assert redact(text) == text


def test_redact_catches_the_json_escaped_form(monkeypatch):
    value = 'pa"ss\\word-é-long'
    monkeypatch.setenv("DB_PASSWORD", value)
    dumped = json.dumps({"pw": value})
    assert value not in redact(dumped) and json.dumps(value)[1:-1] not in redact(dumped)
    assert json.loads(redact(dumped)) == {"pw": MASK}


def test_log_file_and_stderr_are_redacted(tmp_path: Path, token, capsys, restore_logger):
    log_file = tmp_path / "log" / "run.log"
    lab_logger.setup("DEBUG", log_file)
    logger.debug(f"env token is {token}")
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        logger.exception("upload failed")
    lab_logger.setup()
    text = log_file.read_text()
    assert f"env token is {MASK}" in text
    assert f"RuntimeError: failed with {MASK}" in text  # the traceback too
    err = capsys.readouterr().err
    assert f"env token is {MASK}" in err and "Traceback" in err
    assert token not in text and token not in err


def test_write_json_redacts(tmp_path: Path, token):
    path = tmp_path / "spec.json"
    write_json(path, {"meta": {"note": token, "nested": [f"Bearer {token}"]}, "n": 1})
    assert token not in path.read_text()
    assert json.loads(path.read_text()) == {
        "meta": {"note": MASK, "nested": [f"Bearer {MASK}"]},
        "n": 1,
    }


def test_spec_error_message_is_redacted(token):
    err = SpecError(f"unknown env {token!r}", "env.name", ["CartPole-v1"])
    assert token not in str(err) and MASK in str(err)


def assert_no_token(token: str, *texts: str, folder: Path | None = None) -> None:
    for text in texts:
        assert token not in text
    files = [p for p in folder.rglob("*") if p.is_file()] if folder else []
    leaks = [p for p in files if token.encode() in p.read_bytes()]
    assert not leaks, leaks


def test_cli_run_never_writes_the_token(tmp_path: Path, token):
    spec = tiny_ppo(max_frame=256, log_frequency=128)
    spec["meta"]["zz_note"] = "${note}"  # an unknown key: warned about, kept in the saved spec
    path = write_spec(tmp_path, {"tiny": spec})
    assert os.environ["HF_TOKEN"] == token  # run_cli passes the environment on
    result = run_cli(
        "run", str(path), "tiny", "train", "-s", f"note={token}", "--log-level", "DEBUG",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = run_dirs(tmp_path)
    saved = json.loads((run / "tiny_spec.json").read_text())
    assert saved["meta"]["zz_note"] == MASK  # it was there to leak
    assert (run / "log" / "tiny_t0.log").read_text()
    assert_no_token(token, result.stdout, result.stderr, folder=tmp_path / "data")


def test_cli_spec_error_never_prints_the_token(tmp_path: Path, token):
    spec = tiny_ppo(max_frame=256)
    spec["env"]["name"] = "${env}"
    path = write_spec(tmp_path, {"tiny": spec})
    result = run_cli("run", str(path), "tiny", "train", "-s", f"env={token}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error:")
    assert MASK in result.stderr
    assert_no_token(token, result.stdout, result.stderr)
    assert run_dirs(tmp_path) == []


def test_an_unexpected_crash_prints_a_redacted_traceback(monkeypatch, token, capsys):
    from slm_lab.cli import main, train

    def crash(module):
        raise RuntimeError(f"a bug holding {token}")

    monkeypatch.setattr(train, "import_lab", crash)
    monkeypatch.setattr(main.sys, "argv", ["slm-lab", "run", "spec.json", "x", "train"])
    loaded = type("L", (), {"warnings": [], "spec": {"name": "x"}, "file": "spec.json"})()
    monkeypatch.setattr(train, "load_spec", lambda *a, **k: loaded)
    with pytest.raises(SystemExit) as exit_info:
        main.entry()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and f"a bug holding {MASK}" in err and token not in err
