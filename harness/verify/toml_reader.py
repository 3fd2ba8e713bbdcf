"""A TOML derivation -> `Derivation`.

    title = "..."
    rounded_inputs = ["filter"]   # optional: inputs shown rounded to the digits written
    [problem]                     # as for `check` (harness.cases.problem_from_table)
    [claimed]                     # output, activation, loss, grad_output, grad_filter, grad_input,
                                  # grad_bias, updated_filter, updated_bias; or [[claimed.steps]] tables
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..cases import ALIASES, problem_from_table, read_toml
from ..derivation import CLAIMABLE, Claim, Derivation, Source
from ..errors import UserError
from ..numbers import decimals_of, to_exact_array
from .judge import canonical_shape, exists

TOP_KEYS = {"title", "description", "problem", "claimed", "rounded_inputs"}
ROUNDABLE = ("input", "filter", "bias", "target", "grad_output")


def _decimals(value) -> np.ndarray:
    if isinstance(value, list):
        return np.array([_decimals(v) for v in value], dtype=int)
    d = decimals_of(value)
    return np.array(-1 if d is None else d, dtype=int)


def _claims(table: dict, problem, where: str) -> dict[str, Claim]:
    if not isinstance(table, dict):
        raise UserError("expected a table of claimed steps", where)
    out = {}
    for key, value in table.items():
        at = f"{where}.{key}"
        if key not in CLAIMABLE:
            raise UserError(f"unknown step {key!r} (known: {', '.join(CLAIMABLE)})", at)
        why = exists(problem, key)
        if why:
            raise UserError(f"{key} is claimed but {why}", at)
        arr = to_exact_array(value, at)
        shape = canonical_shape(problem, key)
        user = problem.layout.user_shape(key, shape)
        if arr.shape != user and arr.shape != shape:
            raise UserError(f"{key} has shape {list(arr.shape)}, expected {list(user)}", at)
        out[key] = Claim(key, arr, _decimals(value), at, "")
    return out


def read_toml_derivation(path: str | Path) -> Derivation:
    path = Path(path)
    data = read_toml(path)
    src = str(path)
    for key in data:
        if key not in TOP_KEYS:
            raise UserError(f"unknown key {key!r} (known: {', '.join(sorted(TOP_KEYS))})", f"{src}: {key}")
    title = data.get("title", path.stem)
    if not isinstance(title, str):
        raise UserError("title must be a string", f"{src}: title")
    if "problem" not in data:
        raise UserError("missing the [problem] table", src)
    table = data["problem"]
    problem = problem_from_table(table, f"{src}: problem", name=path.stem)
    given = {ALIASES.get(k, k) for k in table} if isinstance(table, dict) else set()
    claimed = data.get("claimed")
    if claimed is None:
        raise UserError("missing the [claimed] table (the values to check)", src)
    if not isinstance(claimed, dict):
        raise UserError("expected a table", f"{src}: claimed")
    if "steps" in claimed:
        steps = claimed["steps"]
        if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
            raise UserError("steps must be [[claimed.steps]] tables, one per SGD step", f"{src}: claimed.steps")
        if set(claimed) != {"steps"}:
            extra = sorted(set(claimed) - {"steps"})
            raise UserError(f"with [[claimed.steps]], put {', '.join(extra)} inside the step tables",
                            f"{src}: claimed.{extra[0]}")
        iterations = tuple(MappingProxyType(_claims(s, problem, f"{src}: claimed.steps[{i}]"))
                           for i, s in enumerate(steps))
    else:
        iterations = (MappingProxyType(_claims(claimed, problem, f"{src}: claimed")),)
    if not any(iterations):
        raise UserError("nothing is claimed", f"{src}: claimed")
    if "steps" in given and problem.steps < len(iterations):
        raise UserError(f"{len(iterations)} steps are claimed but problem.steps = {problem.steps}",
                        f"{src}: problem.steps")
    if len(iterations) > 1 and problem.lr is None:
        raise UserError("several SGD steps need a learning_rate", f"{src}: problem.learning_rate")
    conventions = {}
    for key in ("loss", "operation", "activation", "learning_rate"):
        if key in given:
            conventions[key] = Source("declared", f"problem.{key}")
        elif key == "loss" and "grad_output" in given and "target" not in given:
            conventions[key] = Source("declared", "problem.grad_output (a given upstream gradient)")
        elif key != "learning_rate":
            conventions[key] = Source("default")
    rounded = data.get("rounded_inputs", [])
    if not isinstance(rounded, list) or not all(isinstance(r, str) for r in rounded):
        raise UserError(f"rounded_inputs must be a list of names ({', '.join(ROUNDABLE)})", f"{src}: rounded_inputs")
    input_decimals = {}
    for name in rounded:
        canon = ALIASES.get(name, name)
        if canon not in ROUNDABLE or table.get(canon, table.get(name)) is None:
            raise UserError(f"{name!r} is not an input of this problem ({', '.join(ROUNDABLE)})", f"{src}: rounded_inputs")
        raw = next(table[k] for k in table if ALIASES.get(k, k) == canon)
        input_decimals[canon] = _decimals(raw)
    return Derivation(title=title, source=src, problem=problem, iterations=iterations,
                      conventions=MappingProxyType(conventions), input_decimals=MappingProxyType(input_decimals))
