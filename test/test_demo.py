"""The first command of the README: `slm-lab run`, the PPO CartPole demo."""

from pathlib import Path

from test.conftest import run_cli, run_dirs


def test_demo_runs_and_learns(tmp_path: Path):
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = run_dirs(tmp_path)
    assert run.name.startswith("ppo_cartpole_demo_")
    assert "trial_metrics: frame:6.00e+04" in result.stderr
    assert (run / "log" / "tensorboard").is_dir()  # dev mode
    final = result.stderr.split("trial_metrics:")[1]
    strength = float(final.split("strength:")[1].split(" ")[0])
    assert strength > 100  # well above random
