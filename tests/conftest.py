"""Shared test helpers: exact arrays from literals, and the seed's hand-derived numbers."""

from __future__ import annotations

import os
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# CI draws the same examples every run (a landing must not depend on luck); locally they are random,
# so new cases keep being explored. `HYPOTHESIS_PROFILE=ci` reproduces CI's draws.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

ROOT = Path(__file__).resolve().parents[1]
SEED_DOC = ROOT.parent / "shared" / "seeds" / "000_8881a09ef0dbbe7e.txt"


def exact(rows) -> np.ndarray:
    """An object array of Fractions from nested lists of ints / 'p/q' / decimal strings."""
    arr = np.asarray(rows, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(arr.shape):
        out[idx] = F(str(arr[idx]))
    return out


# The seed worked by hand (see DEVELOPERS.md and the seed document), not by crossgrad:
#   Ŷ00 = 1·0.5 + 2·0.2 + 0·0.3 + 1·0.7 = 1.6, …;  L = (0.36 + 0.81 + 0.25 + 0.04) / 4 = 0.365
#   ∂L/∂Ŷ = (2/4)(Ŷ − Y) = [[0.3, 0.45], [−0.25, 0.1]]
#   ∂L/∂W00 = 0.3·1 + 0.45·2 − 0.25·0 + 0.1·1 = 1.3, …;  W' = W − 0.1·∂L/∂W
SEED_HAND = {
    "output": exact([["1.6", "2.9"], ["1.5", "1.2"]]),
    "loss": F("0.365"),
    "grad_output": exact([["0.3", "0.45"], ["-0.25", "0.1"]]),
    "grad_filter": exact([["1.3", "1.0"], ["0.05", "0.95"]]),
    "updated_filter": exact([["0.37", "0.1"], ["0.295", "0.605"]]),
}


def pytest_collection_modifyitems(config, items):
    """`gpu` tests skip cleanly on a machine where neither torch nor jax sees a CUDA GPU
    (tests/test_gpu.py also skips per framework)."""
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    from harness.devices import why_not
    if all(why_not(fw, "cuda") for fw in ("torch", "jax")):
        skip = pytest.mark.skip(reason="needs a CUDA GPU (none here)")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip)
