"""Other conventions a person may have meant, and the learning rate when it is left unstated.

A convention the file declares is taken as given. An undeclared one took the default; when a step is wrong
under the default but right under another convention, the report says which and how to declare it. One
more is recognised without being declared: "error = target − output" as the backward signal (the negative
gradient), with the update adding η·error — right when every step checks that way and an update is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from . import fmt
from .truth import ClaimIn, walk

LOSS_FORMULA = {"mean": "L = (1/N)·Σ(Ŷ−Y)²", "sum": "L = Σ(Ŷ−Y)²", "half_sum": "L = ½·Σ(Ŷ−Y)²",
                "half_mean": "L = (1/2N)·Σ(Ŷ−Y)²"}
SQUARED = tuple(LOSS_FORMULA)


@dataclass(frozen=True)
class Alternative:
    changes: tuple            # (("loss", "sum"), ...) problem fields changed
    sign: int                 # -1: "error = target − output" as the backward signal
    text: str                 # "L = Σ(Ŷ−Y)²"
    declare: str              # 'declare loss = "sum"'


def alternatives(p, declared: set[str]) -> list[Alternative]:
    """Single changes of the undeclared conventions, plus the target − output sign (alone and per loss)."""
    out = []
    if "loss" not in declared and p.loss in SQUARED:
        for loss in SQUARED:
            if loss != p.loss:
                out.append(Alternative((("loss", loss),), 1, LOSS_FORMULA[loss], f'declare loss = "{loss}"'))
    if "operation" not in declared:
        other = "convolution" if p.operation == "cross_correlation" else "cross_correlation"
        text = "a true convolution (kernel flipped 180°)" if other == "convolution" else "cross-correlation (no kernel flip)"
        out.append(Alternative((("operation", other),), 1, text, f'declare operation = "{other}"'))
    if "activation" not in declared and p.activation == "none":
        out.append(Alternative((("activation", "relu"),), 1, "a ReLU after the convolution",
                               'declare activation = "relu"'))
    if p.loss in SQUARED:
        losses = [p.loss] + ([l for l in SQUARED if l != p.loss] if "loss" not in declared else [])
        for loss in losses:
            changes = () if loss == p.loss else (("loss", loss),)
            text = ("error = target − output as the backward signal (the negative gradient; the update must then "
                    "add η·error)" + ("" if not changes else f", with {LOSS_FORMULA[loss]}"))
            out.append(Alternative(changes, -1, text, "" if not changes else f'declare loss = "{loss}"'))
    return out


def apply(p, alt: Alternative):
    return p.with_(**dict(alt.changes))


# --- the learning rate -------------------------------------------------------------------------------

def _round_candidates(r: Fraction) -> list[Fraction]:
    out = [r]
    for digits in range(1, 7):
        out.append(Fraction(round(Decimal(r.numerator) / Decimal(r.denominator), digits)))
    return out


def infer_lr(p, lanes: list[dict], iterations: list[dict[str, ClaimIn]]) -> tuple[Fraction | None, str]:
    """η from the first claimed update: the one value (the simplest, if rounding allows several that differ
    only past the written digits) under which every claimed update checks. (None, reason) otherwise."""
    k, claim = next(((k, it[q]) for k, it in enumerate(iterations) for q in ("updated_filter", "updated_bias")
                     if q in it), (None, None))
    if claim is None:
        return None, ""
    trial = walk(p.with_(lr=Fraction(1)), lanes, iterations[: k + 1])
    quantity = claim.quantity
    old_key = "W" if quantity == "updated_filter" else "b"
    grad_key = "grad_filter" if quantity == "updated_filter" else "grad_bias"
    step = next(c for c in trial if c.quantity == quantity and c.iteration == k + 1)
    ratios = []
    for grads in (step.base[grad_key], step.truth_base[grad_key]):
        old = step.base[old_key].reshape(-1)
        new, g = claim.value.reshape(-1), grads.reshape(-1)
        idx = sorted((i for i in range(len(g)) if g[i] != 0 and new[i] is not None), key=lambda i: -abs(g[i]))[:3]
        for i in idx:
            ratios.extend(_round_candidates((old[i] - new[i]) / g[i]))
    fits = []
    for eta in dict.fromkeys(r for r in ratios if r > 0):
        checks = walk(p.with_(lr=eta), lanes, iterations)
        if all(c.status != "wrong" for c in checks if c.quantity.startswith("updated_")):
            fits.append(eta)
    if not fits:
        return None, (f"no learning rate η makes the claimed {quantity} equal to the old value − η·gradient; "
                      "give learning_rate")
    simplest = min(f.denominator for f in fits)
    best = [f for f in fits if f.denominator == simplest]
    if len(best) > 1:
        return None, ("several learning rates fit the claimed update (" + ", ".join(fmt.num(f) for f in best)
                      + "); give learning_rate")
    return best[0], f"η = {fmt.num(best[0])} inferred from the claimed {quantity} (iteration {k + 1})"


