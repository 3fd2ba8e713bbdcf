"""A hand-written derivation as data: the problem, the claimed values per SGD step, and
where every convention came from. The TOML reader and the Markdown/LaTeX importer both
produce a `Derivation`; `verify` consumes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .problem import Problem

# The steps a derivation can claim, in order of dependence. `activation` is the ReLU's output.
CLAIMABLE = ("output", "activation", "loss", "grad_output", "grad_filter", "grad_input", "grad_bias",
             "updated_filter", "updated_bias")

CONVENTIONS = ("loss", "operation", "activation", "learning_rate", "indexing")


@dataclass(frozen=True)
class Source:
    """Where a convention's value came from: 'declared' (a TOML key), 'read' (a document line), 'default',
    or 'inferred' (e.g. η from the claimed update)."""

    kind: str            # declared | read | default | inferred
    detail: str = ""     # "problem.loss", "line 42: \\frac{1}{4}\\sum ...", ...

    def describe(self) -> str:
        if self.kind == "declared" and self.detail.startswith("on the command line"):
            return "declared " + self.detail
        if self.kind == "read" and self.detail:
            return f"read from {self.detail}"
        return {"declared": "declared in the file", "default": "default",
                "inferred": "inferred"}.get(self.kind, self.kind) + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, eq=False)
class Claim:
    """One claimed quantity at one step.

    `value` is an object array of Fractions in the shape the user wrote (0-d for the loss);
    entries the person did not claim are None (e.g. only ∂L/∂W₀₀ and ∂L/∂W₀₁ written).
    `decimals[i]` is how many digits after the point entry i was written with (-1: exact, e.g. an
    integer or a fraction); a value with d ≥ 1 decimals is right when it is the truth rounded to d places.
    """

    quantity: str
    value: np.ndarray
    decimals: np.ndarray
    where: str                      # "line 57" / "claimed.grad_filter"
    text: str = ""                  # the source text the value was read from (for messages)


@dataclass(frozen=True, eq=False)
class Derivation:
    title: str
    source: str                                   # the file it came from
    problem: Problem                              # lr None = not stated (verify may infer it)
    iterations: tuple[Mapping[str, Claim], ...]   # one mapping per SGD step
    conventions: Mapping[str, Source] = field(default_factory=lambda: MappingProxyType({}))
    # inputs shown rounded (quantity -> decimals per entry), e.g. a random filter printed to 4 places
    input_decimals: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))
    skipped: tuple[str, ...] = ()                 # importer: what was read but left out, and why
    notes: tuple[str, ...] = ()                   # importer: assumptions (e.g. 1-based indices)
    # claims read but not checkable from what the document gives ("line 12: ∂L/∂W — no target ..."); shown in
    # the normal report, never dropped silently
    unchecked: tuple[str, ...] = ()
    # importer: which value of the document took each input role, on what evidence, and the best assignment
    # that lost (None when nothing competed)
    assignment: tuple["Assigned", ...] = ()
    score: tuple[int, int] | None = None          # (claimed steps right, claimed steps checked) when it competed
    runner_up: "Alternative | None" = None
    # the person's "error" matrix, claimed where ∂L/∂Ŷ would be, and its sign (None: no error matrix)
    error: "ErrorSignal | None" = None


@dataclass(frozen=True)
class ErrorSignal:
    """An "error" matrix in place of ∂L/∂Ŷ, judged under the person's own sign: -1 for error = target − output
    (the negative gradient of ½·Σ(Ŷ − Y)²), +1 for output − target, 0 for not stated (decided by its values)."""

    sign: int
    source: Source


# The roles a value of a document can be given on the command line (`--role NAME=ROLE`), with the words people
# use for them. `skip` leaves a value out.
ROLES = ("input", "filter", "bias", "target", "grad_output", "output", "activation", "loss", "grad_filter",
         "grad_input", "grad_bias", "updated_filter", "updated_bias", "skip")
ROLE_WORDS = {"x": "input", "image": "input", "kernel": "filter", "weight": "filter", "weights": "filter",
              "w": "filter", "y": "target", "label": "target", "upstream": "grad_output", "dy": "grad_output",
              "delta": "grad_output", "prediction": "output", "dw": "grad_filter", "dx": "grad_input",
              "db": "grad_bias", "ignore": "skip", "none": "skip"}


@dataclass(frozen=True)
class Declared:
    """What the person says on the command line; it wins over what the document says, and the report says so."""

    stride: int | tuple[int, int] | None = None
    padding: int | str | tuple[int, int] | None = None   # p, (ph, pw), "same", "valid"
    layout: str | None = None                           # nchw | nhwc: how the document's written arrays are laid out
    roles: tuple[tuple[str, str], ...] = ()             # (name as the document writes it, a ROLES entry)


@dataclass(frozen=True)
class Assigned:
    """One input role and the value that took it."""

    role: str          # input | filter | bias | target | grad_output | stride | padding | ...
    line: int          # 0: declared on the command line
    text: str          # what was read there
    evidence: str      # "labelled 'Input X:'", "operand of the conv call at line 9", "declared on the command line"


@dataclass(frozen=True)
class Alternative:
    """The best assignment that lost: what it changes, and how many claimed steps check under it."""

    changes: tuple[Assigned, ...]
    ok: int
    checked: int
