"""Enjoy: replay a trained agent from a run folder, with no learning.

`slm-lab run SPEC_FILE SPEC_NAME enjoy@data/<run>` (or `enjoy@latest`) takes the run's saved spec
(its resolved env settings), the best session's best weights (the latest when no best was kept)
and the env normalisers' statistics saved with them; it plays `--episodes` greedy episodes on one
env and writes only into a new `<name>_enjoy_<timestamp>/` folder: the returns, and with `--video`
an mp4 per run. The training run's files are never modified.
"""

import json
import math
import os
import re
from pathlib import Path

from loguru import logger

from slm_lab.agent import Agent
from slm_lab.env.normalize import ObsNorm, from_tensors
from slm_lab.env.render import Video
from slm_lab.env.vec_env import Clock, ReturnTracker, VecEnv, obs_window
from slm_lab.experiment import checkpoint
from slm_lab.experiment.control import ENV_STATE, seed_everything
from slm_lab.lib.util import new_folder, write_json
from slm_lab.spec.errors import SpecError

TRIAL_SPEC = re.compile(r"_t\d+_spec\.json$")
SESSION_METRICS = re.compile(r"_s(\d+)_session_metrics_scalar\.json$")
SEED = 0


def saved_spec(run: Path) -> dict:
    """The resolved spec the run wrote: `<name>_spec.json` (not the per-trial `_t<i>_` copies)."""
    files = [p for p in run.glob("*_spec.json") if not TRIAL_SPEC.search(p.name)]
    if not files:
        raise SpecError(f"{run} holds no <name>_spec.json: not a run folder", "MODE")
    return json.loads(files[0].read_text())


def best_session(run: Path, name: str) -> int:
    """The session with the highest total_reward_ma in its metrics (0 when none wrote any)."""
    scores = {}
    for path in (run / "info").glob(f"{name}_t*_s*_session_metrics_scalar.json"):
        score = json.loads(path.read_text()).get("total_reward_ma", math.nan)
        index = int(SESSION_METRICS.search(path.name).group(1))
        scores[index] = -math.inf if math.isnan(score) else score
    return max(scores, key=scores.get) if scores else 0


def model_file(model_dir: Path, prefix: str, what: str) -> Path | None:
    """The best checkpoint's `what` file (`net_model`, `env_state`), else the latest, else None."""
    for path in (model_dir / f"{prefix}_ckpt-best_{what}.pt", model_dir / f"{prefix}_{what}.pt"):
        if path.exists():
            return path
    return None


def restore_nets(agent: Agent, model_dir: Path, prefix: str) -> list[str]:
    """Load each net's weights; returns the files read."""
    used = []
    for name, net in agent.nets.items():
        path = model_file(model_dir, prefix, f"{name}_model")
        if path is None:
            raise SpecError(f"no model file for net {name!r} of {prefix} in {model_dir}", "MODE")
        checkpoint.load_into(net, checkpoint.load(path), path, f"net {name!r}")
        used.append(path.name)
    return used


def saved_obs_norm(env_spec: dict, model_dir: Path, prefix: str) -> ObsNorm | None:
    """The observation statistics the weights were trained with (frozen), when normalising."""
    if not env_spec["normalize_obs"]:
        return None
    path = model_file(model_dir, prefix, ENV_STATE)
    state = from_tensors(checkpoint.load(path)).get("obs_norm") if path else None
    if state is None:
        raise SpecError(f"{model_dir} holds no observation statistics for {prefix}", "MODE")
    norm = ObsNorm(state["mean"].shape, env_spec["clip_obs"])
    norm.load_state_dict(state)
    return norm


def play(
    agent: Agent, env: VecEnv, obs, episodes: int, recorder: Video | None, first=None
) -> list[float]:
    """Greedy episodes from `obs`; each frame into the recorder, if any. Closes both."""
    if recorder is not None:
        recorder.add(first)
    while env.tracker.episodes < episodes:
        obs = env.step(agent.to_env(agent.act(obs, explore=False)))[0]
        if recorder is not None:
            recorder.add(env.frame())
    env.close()
    if recorder is not None:
        recorder.close()
    return list(env.tracker.returns)


def enjoy(run: Path, data_root: Path, episodes: int, render: bool, video: bool) -> dict:
    """Play the trained agent; returns {returns, mean, ...}, also written into the new folder."""
    spec = saved_spec(run)
    name, env_spec = spec["name"], dict(spec["env"])
    session = best_session(run, name)
    prefix = f"{name}_t0_s{session}"
    if env_spec["vectorization_mode"] != "native":
        env_spec["vectorization_mode"] = "sync"  # one env, drawn in this process
    env_spec["normalize_reward"] = False  # scores are raw; nothing learns here
    if video and not render and not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo draws off screen without a display
    mode = "human" if render else ("rgb_array" if video else None)
    clock = Clock(env_spec["max_frame"], 1)
    obs_norm = saved_obs_norm(env_spec, run / "model", prefix)
    env = VecEnv(
        env_spec, clock, num_envs=1, render_mode=mode, window=obs_window(spec), obs_norm=obs_norm
    )
    env.tracker = ReturnTracker(1, window=None)  # every episode played is reported
    seed_everything(SEED)
    agent = Agent(spec, env, clock, memory=False)
    files = restore_nets(agent, run / "model", prefix)
    obs = env.reset(seed=SEED)
    first = env.frame() if video else None  # drawing works before any file is written
    out, _ = new_folder(data_root, f"{name}_enjoy")
    recorder = Video(out / f"{name}_enjoy.mp4") if video else None
    returns = play(agent, env, obs, episodes, recorder, first)
    result = {
        "run": str(run),
        "session": session,
        "model_files": files,
        "episodes": len(returns),
        "returns": returns,
        "mean": sum(returns) / len(returns),
        "video": recorder.path.name if recorder else None,
        "video_frames": recorder.frames if recorder else 0,
    }
    write_json(out / f"{name}_enjoy_metrics.json", result)
    logger.info(f"Enjoyed {prefix} for {len(returns)} episodes: mean return {result['mean']:.2f}")
    logger.info(f"Enjoy folder: {out}")
    return result
