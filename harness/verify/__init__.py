"""`crossgrad verify`: check a hand-written derivation step by step, and say what went wrong.

Public API: `verify(derivation) -> Verdict`, `to_json(verdict) -> dict`, `read_toml_derivation(path)`.
"""

from __future__ import annotations

from .judge import verify
from .render import to_json
from .toml_reader import read_toml_derivation

__all__ = ["verify", "to_json", "read_toml_derivation"]
