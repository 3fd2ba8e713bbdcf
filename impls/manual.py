"""`manual`: the hand-derived backward pass (`impls.formulas`) in NumPy floats, vectorised."""

from __future__ import annotations

import time

import array_api_compat.numpy as xp
import numpy as np

from . import formulas
from .base import Config, Step, Trace

NAME = "manual"
DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}


def unavailable_dtype(dtype: str) -> str | None:
    return None if dtype in DTYPES else f"NumPy has no {dtype}"


def run(problem, config: Config = Config()) -> Trace:
    if config.device not in ("cpu",) and not config.device.startswith("cpu"):
        pass  # the NumPy path is a CPU reference; the harness records where it ran
    dt = DTYPES[config.dtype]
    a = problem.float_arrays(dt)
    t0 = time.perf_counter()
    res = formulas.run_steps(xp, problem, a["x"], a["w"], a["b"], a["target"], a["grad_output"])
    secs = time.perf_counter() - t0
    steps = tuple(Step(**{k: (None if v is None else np.asarray(v)) for k, v in q.items()}) for q in res)
    return Trace(NAME, steps, secs, "cpu")
