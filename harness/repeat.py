"""`--repeat R`: rerun the float implementations and say whether the R results are bitwise equal."""

from __future__ import annotations

import numpy as np

import impls


def bitwise_repeat(problem, result, config, repeats: int) -> dict:
    per_impl = {}
    for name, first in result.traces.items():
        if name == "exact":
            continue
        equal = True
        for _ in range(repeats - 1):
            again = impls.load(name).run(problem, config)
            for s1, s2 in zip(first.steps, again.steps):
                for (q, a), (_, b) in zip(s1.items(), s2.items()):
                    if (a is None) != (b is None) or (a is not None and not np.array_equal(
                            np.asarray(a).view(np.uint8) if np.asarray(a).dtype != object else a,
                            np.asarray(b).view(np.uint8) if np.asarray(b).dtype != object else b)):
                        equal = False
        per_impl[name] = equal
    return {"runs": repeats, "bitwise_equal": all(per_impl.values()), "per_impl": per_impl}
