"""The rules between SAC's and CrossQ's temperature keys (those its env decides, discrete or
continuous actions, are checked as the agent is built)."""

from slm_lab.lib.errors import SpecError

PATH = "agent.algorithm"
ENTROPY_ANNEAL_KEYS = ("start_ratio", "end_ratio", "frames")


def check_sac(algo: dict) -> None:
    if "fixed_alpha" not in algo:
        return
    target = algo["target_entropy"]
    if target != "auto" and (isinstance(target, bool) or not isinstance(target, int | float)):
        raise SpecError(
            f"target_entropy must be 'auto' or a number, got {target!r}", f"{PATH}.target_entropy"
        )
    lo, hi = algo["log_alpha_min"], algo["log_alpha_max"]
    if lo is not None and hi is not None and lo > hi:
        raise SpecError(f"log_alpha_min {lo} is above log_alpha_max {hi}", f"{PATH}.log_alpha_min")
    if algo["alpha_anneal_frames"] and algo["fixed_alpha"] is None:
        raise SpecError(
            "alpha_anneal_frames anneals a fixed_alpha to 0: set fixed_alpha too",
            f"{PATH}.alpha_anneal_frames",
        )
    if algo["entropy_anneal"] is not None:
        check_entropy_anneal(algo["entropy_anneal"], target)


def check_entropy_anneal(anneal: dict, target: object) -> None:
    path = f"{PATH}.entropy_anneal"
    if target != "auto":
        raise SpecError(
            f"entropy_anneal anneals the auto target entropy; target_entropy is {target!r}",
            f"{PATH}.target_entropy",
            ["auto"],
        )
    for k, value in anneal.items():
        if k not in ENTROPY_ANNEAL_KEYS:
            raise SpecError(f"unknown key {k!r}", f"{path}.{k}", ENTROPY_ANNEAL_KEYS)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or value < 0 or (k == "frames" and not isinstance(value, int)):
            kind = "a whole number of frames" if k == "frames" else "a ratio"
            raise SpecError(f"must be {kind}, at least 0; got {value!r}", f"{path}.{k}")
