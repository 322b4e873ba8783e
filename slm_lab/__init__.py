"""SLM Lab: modular deep reinforcement learning in PyTorch."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("slm-lab")
except PackageNotFoundError:  # source tree without install
    __version__ = "0.0.0"

ROOT = Path(__file__).resolve().parent
