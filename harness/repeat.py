"""`--repeat R`: rerun the float implementations and say whether the R results are bitwise equal."""

from __future__ import annotations

import numpy as np

import impls


def _same_bits(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == object or b.dtype == object:
        return a.shape == b.shape and bool(np.all(a == b))
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def bitwise_repeat(problem, result, config, repeats: int) -> dict:
    per_impl = {}
    for name, first in result.traces.items():
        if name == "exact":
            continue
        per_impl[name] = all(
            _same_bits(a, b)
            for _ in range(repeats - 1)
            for s1, s2 in zip(first.steps, impls.load(name).run(problem, config).steps)
            for (_, a), (_, b) in zip(s1.items(), s2.items()))
    return {"runs": repeats, "bitwise_equal": all(per_impl.values()), "per_impl": per_impl}
