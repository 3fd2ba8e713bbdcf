"""Walk the claimed steps: the exact truth next to the person's own chain.

Two chains run side by side, each stage by the hand-derived formulas on Fractions:
- the truth: the problem's inputs, every stage computed;
- the person's chain: every claimed value replaces the computed one (unclaimed entries filled in), so each
  stage is recomputed from what the person actually had. A claim that misses the truth but is exactly what
  follows from the person's own earlier values is `carried` (or `ok`, when those earlier values were only
  rounded); anything else is `wrong`.
With rounded inputs a second "lane" runs the same chains on `Interval`s over the rounding band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import pipeline as P
from .fmt import Indexing
from .rounding import match_array

ORDER = ("output", "activation", "loss", "grad_output", "grad_filter", "grad_input", "grad_bias",
         "updated_filter", "updated_bias")
DEPS = {"output": ("W", "b"), "activation": ("output",), "loss": ("yhat",), "grad_output": ("yhat",),
        "grad_filter": ("delta",), "grad_input": ("delta", "W"), "grad_bias": ("delta",),
        "updated_filter": ("W", "grad_filter"), "updated_bias": ("b", "grad_bias")}


@dataclass(frozen=True, eq=False)
class ClaimIn:
    """A claim in the canonical layout (entries None where not claimed)."""

    quantity: str
    value: np.ndarray
    decimals: np.ndarray
    user_shape: tuple
    where: str
    ix: Indexing = Indexing()   # how the person numbers the entries (for messages only)
    shown_sign: int = 1         # -1: the person wrote the negative (an error matrix, target − output)


@dataclass(frozen=True, eq=False)
class StepCheck:
    quantity: str
    iteration: int
    status: str                 # ok | wrong | carried
    claim: ClaimIn
    truth: np.ndarray | None    # exact truth (point lane)
    person: np.ndarray | None   # what follows from the person's own earlier values (point lane)
    kinds: tuple                # per entry: exact | rounded | noise | interval | unclaimed (when matched)
    via: str                    # "truth" | "person" | ""
    base: dict                  # the person's values this step was computed from
    truth_base: dict            # the true values the truth was computed from
    tainted: bool               # some input came from a wrong or carried claim


def _compute(q: str, p, s: dict, sign: int):
    if q == "output":
        return P.output(p, s["x"], s["W"], s["b"])
    if q == "activation":
        return P.activation(p, s["output"])
    if q in ("loss", "grad_output"):
        loss, g = P.loss_and_grad(p, s["yhat"], s["target"], s["G"], sign)
        return loss if q == "loss" else g
    if q == "grad_filter":
        return P.grad_filter(p, s["x"], s["W"].shape, s["delta"])
    if q == "grad_input":
        return P.grad_input(p, s["x"].shape, s["W"], s["delta"])
    if q == "grad_bias":
        return None if s["b"] is None else P.grad_bias(s["delta"])
    if q == "updated_filter":
        return None if p.lr is None else P.update(s["W"], p.lr, s["grad_filter"], sign)
    if q == "updated_bias":
        return None if p.lr is None or s["b"] is None else P.update(s["b"], p.lr, s["grad_bias"], sign)
    raise ValueError(q)


def compute(q: str, p, s: dict, sign: int = 1):
    """One stage from the values in `s` (public: diagnoses recompute stages under other assumptions)."""
    return _compute(q, p, s, sign)


def _derive(q: str, p, s: dict) -> None:
    if q == "activation":
        s["yhat"] = P.y_hat(p, s["output"], s["activation"])
    elif q == "output" and p.activation != "relu":
        s["yhat"] = s["output"]
    elif q == "grad_output":
        s["delta"] = P.delta(p, s["grad_output"], s["output"])


def _fill(claim: np.ndarray, ref: np.ndarray | None) -> np.ndarray:
    if ref is None or not any(v is None for v in claim.reshape(-1)):
        return claim
    out = claim.copy()
    mask = np.vectorize(lambda v: v is None, otypes=[bool])(claim)
    out[mask] = np.asarray(ref, dtype=object)[mask]
    return out


def truth_chain(p, inputs: dict, iterations: int, sign: int = 1) -> list[dict]:
    """Every stage of every iteration, exactly, from the problem's inputs."""
    out, w, b = [], inputs["W"], inputs["b"]
    for _ in range(iterations):
        s = dict(inputs, W=w, b=b)
        for q in ORDER:
            s[q] = _compute(q, p, s, sign)
            _derive(q, p, s)
        out.append(s)
        if s["updated_filter"] is not None:
            w = s["updated_filter"]
            b = s["updated_bias"] if b is not None else None
    return out


def walk(p, lanes: list[dict], iterations: list[dict[str, ClaimIn]], sign: int = 1) -> list[StepCheck]:
    """Judge every claim. `lanes[0]` holds the exact inputs, `lanes[1]` (optional) interval inputs."""
    truths = [truth_chain(p, lane, len(iterations), sign) for lane in lanes]
    ws = [(lane["W"], lane["b"]) for lane in lanes]
    taint_w = taint_b = False
    checks: list[StepCheck] = []
    for k, claims in enumerate(iterations):
        states = [dict(lane, W=w, b=b) for lane, (w, b) in zip(lanes, ws)]
        taint = {"W": taint_w, "b": taint_b}
        for q in ORDER:
            refs = [_compute(q, p, s, sign) for s in states]
            tainted = any(taint.get(d, False) for d in DEPS[q])
            claim = claims.get(q)
            if claim is not None:
                status, kinds, via = "wrong", (), ""
                for tlane, ref_lanes in (("truth", [t[k][q] for t in truths]), ("person", refs)):
                    for ref in ref_lanes:
                        if ref is None:
                            continue
                        m = match_array(claim.value, claim.decimals, ref)
                        if m is not None:
                            status = "ok" if tlane == "truth" or not tainted else "carried"
                            kinds, via = tuple(m), tlane
                            break
                    if via:
                        break
                checks.append(StepCheck(q, k + 1, status, claim, truths[0][k][q], refs[0], kinds, via,
                                        dict(states[0]), truths[0][k], tainted))
                vals = [_fill(claim.value, r) for r in refs]
                taint[q] = status != "ok"
            else:
                vals = refs
                taint[q] = tainted
            for s, v in zip(states, vals):
                s[q] = v
                _derive(q, p, s)
            if q == "activation" or (q == "output" and p.activation != "relu"):
                taint["yhat"] = taint[q]
            if q == "grad_output":
                taint["delta"] = taint[q] or (p.activation == "relu" and taint["output"])
        if states[0]["updated_filter"] is not None:
            ws = [(s["updated_filter"], s["updated_bias"] if s["b"] is not None else None) for s in states]
            taint_w, taint_b = taint["updated_filter"], taint.get("updated_bias", False)
    return checks
