"""Spec files: load, substitute, validate (torch-free)."""

from slm_lab.lib.errors import SpecError
from slm_lab.spec.loader import LoadedSpec, load_spec

__all__ = ["LoadedSpec", "SpecError", "load_spec"]
