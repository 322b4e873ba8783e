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
from pathlib import Path

from loguru import logger

from slm_lab.agent import Agent
from slm_lab.env.normalize import ObsNorm, from_tensors
from slm_lab.env.render import Video
from slm_lab.env.vec_env import ReturnTracker
from slm_lab.experiment import checkpoint, loop
from slm_lab.experiment.session import make_env, seed_everything
from slm_lab.lib.errors import UsageError
from slm_lab.lib.run_paths import ENV_STATE, SESSION_METRICS, RunPaths, new_folder
from slm_lab.lib.run_paths import run_spec_file as find_spec_file
from slm_lab.lib.util import write_json

SEED = 0


def saved_spec(run: Path) -> dict:
    """The resolved spec the run wrote: `<name>_spec.json` (not the per-trial `_t<i>_` copies)."""
    path = find_spec_file(run)
    if path is None:
        raise UsageError(f"{run} holds no <name>_spec.json: not a run folder", "MODE")
    return json.loads(path.read_text())


def best_session(paths: RunPaths) -> int:
    """The session with the highest total_reward_ma in its metrics (0 when none wrote any)."""
    scores = {}
    for path in paths.info_dir.glob(f"{paths.name}_t*_s*_session_metrics_scalar.json"):
        score = json.loads(path.read_text()).get("total_reward_ma", math.nan)
        index = int(SESSION_METRICS.search(path.name).group(1))
        scores[index] = -math.inf if math.isnan(score) else score
    return max(scores, key=scores.get) if scores else 0


def model_file(paths: RunPaths, session: int, what: str) -> Path | None:
    """The best weights' `what` file (`<net>_model`, ENV_STATE), else the latest, else None."""
    for best in (True, False):
        path = paths.model_file(session, what, best)
        if path.exists():
            return path
    return None


def restore_nets(agent: Agent, paths: RunPaths, session: int) -> list[str]:
    """Load each net's weights; returns the files read."""
    used = []
    for name, net in agent.nets.items():
        path = model_file(paths, session, f"{name}_model")
        if path is None:
            raise UsageError(
                f"no model file for net {name!r} of {paths.prefix(session)} in {paths.model_dir}",
                "MODE",
            )
        checkpoint.load_into(net, checkpoint.load(path), path, f"net {name!r}")
        used.append(path.name)
    return used


def saved_obs_norm(env_spec: dict, paths: RunPaths, session: int) -> ObsNorm | None:
    """The observation statistics the weights were trained with (frozen), when normalising."""
    if not env_spec["normalize_obs"]:
        return None
    path = model_file(paths, session, ENV_STATE)
    state = from_tensors(checkpoint.load(path)).get("obs_norm") if path else None
    if state is None:
        raise UsageError(
            f"{paths.model_dir} holds no observation statistics for {paths.prefix(session)}",
            "MODE",
        )
    norm = ObsNorm(state["mean"].shape, env_spec["clip_obs"])
    norm.load_state_dict(state)
    return norm


def enjoy(run: Path, data_root: Path, episodes: int, render: bool, video: bool) -> dict:
    """Play the trained agent; returns {returns, mean, ...}, also written into the new folder."""
    spec = saved_spec(run)
    name, env_spec = spec["name"], dict(spec["env"])
    paths = RunPaths(run_dir=run, name=name)
    session = best_session(paths)
    if env_spec["vectorization_mode"] == "jax":
        if render:
            raise UsageError(f"--render cannot show {env_spec['name']} on screen: use --video")
        env_spec["device"] = None  # numpy observations, as the saved statistics are
    elif env_spec["vectorization_mode"] != "native":
        env_spec["vectorization_mode"] = "sync"  # one env, drawn in this process
    env_spec["normalize_reward"] = False  # scores are raw; nothing learns here
    if video and not render and not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo draws off screen without a display
    mode = "human" if render else ("rgb_array" if video else None)
    obs_norm = saved_obs_norm(env_spec, paths, session)
    env = make_env({**spec, "env": env_spec}, num_envs=1, render_mode=mode, obs_norm=obs_norm)
    tracker = ReturnTracker(1, window=None)  # every episode played is reported
    seed_everything(SEED)
    agent = Agent(spec, env, loop.Clock(env_spec["max_frame"], 1), memory=False)
    files = restore_nets(agent, paths, session)
    obs = env.reset(seed=SEED)
    first = env.frame() if video else None  # drawing works before any file is written
    out, _ = new_folder(data_root, f"{name}_enjoy")
    recorder = Video(out / f"{name}_enjoy.mp4") if video else None
    if recorder is not None:
        recorder.add(first)

    def record_frame() -> None:
        recorder.add(env.frame())

    loop.play(agent, env, tracker, obs, episodes, record_frame if recorder else None)
    env.close()
    if recorder is not None:
        recorder.close()
    returns = list(tracker.returns)
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
    logger.info(
        f"Enjoyed {paths.prefix(session)} for {len(returns)} episodes: "
        f"mean return {result['mean']:.2f}"
    )
    logger.info(f"Enjoy folder: {out}")
    return result
