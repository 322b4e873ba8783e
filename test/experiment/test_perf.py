"""--optimize-perf and --cuda-offset: sessions spread round-robin over the visible GPUs from the
offset, as the original lab did (a fake device count here; the GPU check runs it for real)."""

import pytest
import torch

from slm_lab.experiment import perf
from slm_lab.experiment.context import RunFlags
from slm_lab.lib.errors import UsageError


@pytest.mark.parametrize(
    ("count", "offset", "gpus"),
    [
        (4, 0, [0, 1, 2, 3, 0, 1]),
        (4, 2, [2, 3, 0, 1, 2, 3]),
        (2, 1, [1, 0, 1, 0, 1, 0]),
        (0, 0, [None] * 6),
    ],
)
def test_sessions_round_robin_from_the_offset(count: int, offset: int, gpus: list):
    # jobs: trial x max_session + session, e.g. 2 trials of 3 sessions
    assert [perf.session_gpu(job, offset, count) for job in range(6)] == gpus


def test_setup_places_each_session_on_its_gpu(monkeypatch: pytest.MonkeyPatch):
    placed = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "set_device", placed.append)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    flags = RunFlags(cuda_offset=1)
    assert [perf.setup(flags, job) for job in range(4)] == [1, 2, 0, 1]
    assert placed == [1, 2, 0, 1]
    assert torch.backends.cudnn.benchmark is True  # --optimize-perf on CUDA
    assert torch.get_float32_matmul_precision() == "high"  # TF32 matmuls
    torch.set_float32_matmul_precision("highest")


def test_no_optimize_perf_leaves_cuda_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda gpu: None)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    perf.setup(RunFlags(optimize_perf=False), 0)
    assert torch.backends.cudnn.benchmark is False
    assert torch.get_float32_matmul_precision() == "highest"


@pytest.mark.parametrize(("offset", "count"), [(1, 0), (2, 2), (-1, 4)])
def test_an_offset_past_the_gpus_is_refused(offset: int, count: int):
    with pytest.raises(UsageError, match=r"is past the GPUs present \(torch sees "):
        perf.check_offset(offset, count)
    perf.check_offset(0, count)
    perf.check_offset(count - 1 if count else 0, count)
