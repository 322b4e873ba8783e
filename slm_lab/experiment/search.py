"""Search mode: the spec's search block as a Ray Tune space; each Tune trial runs a lab Trial
(max_session seeds) into one experiment folder, and reports the mean of its sessions' scores at
every frame all of them have reached, so ASHA stops trials on multi-seed scores."""

import copy
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loguru import logger

from slm_lab.experiment import analysis, interrupt, run
from slm_lab.experiment.analysis import METRIC, TIME_ATTR
from slm_lab.experiment.interrupt import Interrupted
from slm_lab.lib import logger as lab_logger
from slm_lab.lib.errors import DiskFull, SessionsFailed
from slm_lab.lib.run_paths import RunPaths, best_spec_file, search_interrupted
from slm_lab.lib.util import cpu_count, space_checked, write_json
from slm_lab.spec import schema
from slm_lab.spec.space import samplers

OPTUNA = {"uniform", "loguniform", "quniform", "qloguniform", "randint", "qrandint", "choice"}
SCALARS = (bool, int, float, str, type(None))


def domain(sampler: str, args: list):
    """The Tune sampler (randint's high is exclusive, as in Tune; qrandint's inclusive)."""
    from ray import tune

    if sampler == "choice":
        return tune.choice(args)
    if sampler == "grid_search":
        return tune.grid_search(args)
    return getattr(tune, sampler)(*args)


def use_optuna(found: dict[str, tuple[str, list]]) -> bool:
    """Optuna's TPE takes every sampler here but grid_search and randn, and scalar choices."""
    return all(
        sampler in OPTUNA and (sampler != "choice" or all(isinstance(a, SCALARS) for a in args))
        for sampler, args in found.values()
    )


def scheduler(meta: dict, max_frame: int):
    from ray.tune.schedulers import ASHAScheduler

    args = meta["search_scheduler"]
    if not args:
        return None
    # a trial reaching max_t is stopped at that report: past max_frame, a full trial finishes
    return ASHAScheduler(time_attr=TIME_ATTR, max_t=max_frame + 1, **args)


def searcher(found: dict, seed: int):
    if use_optuna(found):
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(seed=seed)
    logger.info(
        "search: grid_search, randn or non-scalar choices in the space: trials come from "
        "Tune's basic variant generator (Optuna's TPE takes none of them)"
    )
    return None


def sessions_at_once(spec: dict, address: str | None) -> int | None:
    """Sessions training at once on this machine: trials at once (the cores over each trial's
    share) x each trial's sessions at once; None when the trials run on a cluster joined with
    --ray-address, whose memory is not this machine's."""
    if address:
        return None
    cpus = max(1, int(spec["meta"]["search_resources"]["cpu"]))
    return max(1, cpu_count() // cpus) * run.sessions_at_once(spec, cpus)


def start_ray(address: str | None) -> None:
    import logging

    logging.getLogger("ray.tune.tune").setLevel(logging.CRITICAL)  # its restore hint is Python

    # read by Ray when imported: under `uv run`, Ray would ship the working directory (data/
    # included) to its workers and start them through uv; they share this environment already
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local instance needs no token
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the new one prints tables even at verbose 0
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no tensorboardX files
    import ray

    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=cpu_count(), include_dashboard=False, log_to_driver=False)


def search(
    spec: dict,
    spec_file: Path,
    log_level: str,
    data_root: Path,
    address: str | None = None,
    keep: int | None = None,
) -> tuple[Path, dict]:
    """Run the search into data/<name>_<time>/; returns the folder and the best trial's metrics.
    `keep`: only the best `keep` trials keep their model files."""
    found = samplers(spec)
    run.preflight(spec, sessions=sessions_at_once(spec, address))
    spec, ctx = run.open_run(spec, spec_file, "search", False, log_level, data_root)
    name, meta, run_dir = spec["name"], spec["meta"], ctx.paths.run_dir
    lab_logger.setup(log_level, ctx.paths.log_dir / f"{name}.log")  # trials: <name>_t<i>.log
    write_json(ctx.paths.run_spec_file, spec)
    logger.info(f"Searching {name}: {len(found)} keys, {meta['max_trial']} samples: {run_dir}")
    return run_dir, complete(spec, found, run_dir, log_level, address, keep)


def resume(
    spec: dict,
    run_dir: Path,
    log_level: str,
    address: str | None = None,
    keep: int | None = None,
    force: bool = False,
) -> tuple[Path, dict]:
    """search@DIR: Tune restores the search; trials it had not ended run again at their own
    index, their unfinished sessions resuming from their checkpoints."""
    saved = run.read_saved_spec(run_dir, spec["name"])
    spec = run.resumed_spec(spec, saved, force)
    found = samplers(spec)
    run.preflight(spec, sessions=sessions_at_once(spec, address))
    paths = RunPaths(run_dir=run_dir, name=spec["name"])
    lab_logger.setup(log_level, paths.log_dir / f"{spec['name']}.log")
    if spec != saved:
        write_json(paths.run_spec_file, spec)
    search_interrupted(run_dir).unlink(missing_ok=True)
    logger.info(f"Resuming the search {spec['name']}: {run_dir}")
    return run_dir, complete(spec, found, run_dir, log_level, address, keep)


def complete(
    spec: dict, found: dict, run_dir: Path, log_level: str, address: str | None, keep: int | None
) -> dict:
    """Fit, then finish; a full disk names the folder that search@ resumes."""
    try:
        with space_checked(run_dir):
            fit(spec, found, run_dir, log_level, address)
            return finish(spec, run_dir, keep)
    except DiskFull as e:
        e.run_dir, e.mode = run_dir, "search"
        raise


def fit(spec: dict, found: dict, run_dir: Path, log_level: str, address: str | None) -> None:
    """Tune runs the trials (or restores them when run_dir holds a Tune experiment). Ctrl-C or
    SIGTERM: running trials save their sessions, the experiment table is written, and
    Interrupted names the folder to resume."""
    with stopping(run_dir) as received:
        ours = {signum: signal.getsignal(signum) for signum in interrupt.SIGNALS}
        try:
            start_ray(address)
            for signum, handler in ours.items():  # ray.init took SIGTERM: see stopping
                signal.signal(signum, handler)
            tuner(spec, found, run_dir, log_level).fit()
        finally:
            import ray

            ray.shutdown()
    if received:
        analysis.write_experiment(run_dir, spec["name"], spec)
        raise Interrupted(received[0], run_dir, "search")


def tuner(spec: dict, found: dict, run_dir: Path, log_level: str):
    import ray
    from ray import tune
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    from slm_lab.experiment.tune_trial import LabTrial  # after start_ray: it imports Ray

    meta = spec["meta"]
    res = meta["search_resources"]
    cpus = max(1, int(res["cpu"]))
    trainable = tune.with_resources(
        tune.with_parameters(
            LabTrial, spec=spec, run_dir=run_dir.resolve(), log_level=log_level, cpus=cpus
        ),
        {"cpu": cpus, "gpu": res["gpu"]},
    )
    space = {path: domain(*args) for path, args in found.items()}
    storage = (run_dir / "ray" / "tune").resolve()
    if tune.Tuner.can_restore(storage):
        logger.info(f"Tune restores the search from {storage}")
        # trials that errored (out of space, a crash) run again, their sessions resuming
        return tune.Tuner.restore(str(storage), trainable, param_space=space, resume_errored=True)
    return tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode="max",
            search_alg=searcher(found, meta["random_seed"]),
            scheduler=scheduler(meta, spec["env"]["max_frame"]),
            num_samples=meta["max_trial"],
            max_concurrent_trials=max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus),
        ),
        run_config=tune.RunConfig(
            storage_path=str(storage.parent),
            name=storage.name,
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),  # the lab's own
            callbacks=[JsonLoggerCallback(), CSVLoggerCallback()],  # result.json, progress.csv
        ),
    )


@contextmanager
def stopping(run_dir: Path) -> Iterator[list[int]]:
    """The first Ctrl-C or SIGTERM marks the folder (trials then know they are not stopped by
    the scheduler) and asks Tune to end with SIGUSR1, Tune's own stop signal: it saves its
    state and stops the trials, which wait for their sessions to save. Tune's SIGINT handler is
    off (it would not see SIGTERM); later signals change nothing. `ray.init` takes SIGTERM
    (Python's exit, under Ray's native handler that prints a stack and aborts, exit 134): `fit`
    puts these handlers back after it."""
    received: list[int] = []

    def handle(signum: int, frame: object) -> None:
        if received:
            return
        received.append(signum)
        search_interrupted(run_dir).parent.mkdir(exist_ok=True)
        search_interrupted(run_dir).touch()
        logger.warning(
            f"{signal.Signals(signum).name}: stopping the search; running trials save their "
            "sessions"
        )
        if signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None):  # Tune not running yet
            raise Interrupted(signum, run_dir, "search")
        os.kill(os.getpid(), signal.SIGUSR1)

    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    previous = {signum: signal.signal(signum, handle) for signum in interrupt.SIGNALS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def finish(spec: dict, run_dir: Path, keep: int | None) -> dict:
    """The experiment table and graph, and the best trial's spec as a ready-to-run file."""
    name = spec["name"]
    df = analysis.write_experiment(run_dir, name, spec)
    ranked = df.dropna(subset=[METRIC]).sort_values(METRIC, ascending=False)["trial"].tolist()
    if not ranked:
        raise SessionsFailed(f"no trial of {name} reached a score: see {run_dir / 'log'}")
    if keep is not None:
        prune_models(run_dir, name, df["trial"].tolist(), set(ranked[:keep]))
    best = int(ranked[0])
    paths = RunPaths(run_dir=run_dir, name=name, trial=best)
    best_file = best_spec_file(run_dir, name)
    write_best_spec(analysis.read_json(paths.spec_file), best_file)
    metrics = analysis.read_json(paths.trial_metrics_file)
    logger.info(f"experiment: {len(df)} trials; best t{best} {analysis.fmt_metrics(metrics)}")
    logger.info(f"best spec: slm-lab run {best_file} {name} train")
    return metrics


def prune_models(run_dir: Path, name: str, trials: list[int], kept: set[int]) -> None:
    """Delete the model files (weights and resume checkpoints) of trials not in `kept`."""
    for t in trials:
        if t not in kept:
            for path in (run_dir / "model").glob(f"{name}_t{t}_*"):
                path.unlink()
    logger.info(f"--keep: model files of trials {sorted(kept)} kept, of the others deleted")


def write_best_spec(trial: dict, path: Path) -> None:
    """The best trial's spec without what the lab records into a run: runs as a new spec."""
    spec = copy.deepcopy(trial)
    for key in schema.RUN_META:
        spec["meta"].pop(key, None)
    name = spec.pop("name")
    write_json(path, {name: spec})
