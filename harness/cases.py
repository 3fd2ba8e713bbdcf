"""Cases: the built-in ones (`seed` and friends) and TOML case files (`[problem]` table)."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import UserError
from .textfile import read_text
from .numbers import to_exact_array, to_fraction
from .problem import Problem, make_problem, output_hw, resolve_padding

MAX_FILE_BYTES = 5_000_000
PROBLEM_KEYS = {"input", "filter", "target", "learning_rate", "bias", "stride", "padding", "dilation", "groups",
                "steps", "loss", "operation", "activation", "grad_output"}
ALIASES = {"x": "input", "image": "input", "w": "filter", "kernel": "filter", "weights": "filter",
           "y": "target", "lr": "learning_rate", "eta": "learning_rate", "b": "bias"}


def problem_from_table(table: dict, where: str, name: str = "case") -> Problem:
    """Build a Problem from a `[problem]` TOML table (values already read with Decimal floats)."""
    if not isinstance(table, dict):
        raise UserError("expected a table", where)
    t = {}
    for key, value in table.items():
        canon = ALIASES.get(key, key)
        if canon not in PROBLEM_KEYS:
            raise UserError(f"unknown key {key!r} (known: {', '.join(sorted(PROBLEM_KEYS))})", f"{where}.{key}")
        if canon in t:
            raise UserError(f"{key!r} given twice (as {canon!r})", f"{where}.{key}")
        t[canon] = value
    for key in ("input", "filter"):
        if key not in t:
            raise UserError(f"missing key {key!r}", where)
    arr = lambda k: None if t.get(k) is None else to_exact_array(t[k], f"{where}.{k}")  # noqa: E731
    lr = None if t.get("learning_rate") is None else to_fraction(t["learning_rate"], f"{where}.learning_rate")
    grad_output = arr("grad_output")
    loss = t.get("loss", "linear" if grad_output is not None and "target" not in t else "mean")
    for key in ("loss", "operation", "activation"):
        if key in t and not isinstance(t[key], str):
            raise UserError(f"{key} must be a string", f"{where}.{key}")
    return make_problem(
        x=arr("input"), w=arr("filter"), target=arr("target"), b=arr("bias"), lr=lr,
        stride=t.get("stride", 1), padding=t.get("padding", 0), dilation=t.get("dilation", 1),
        groups=t.get("groups", 1), steps=t.get("steps", 1), loss=loss,
        operation=t.get("operation", "cross_correlation"), activation=t.get("activation", "none"),
        grad_output=grad_output, name=name, where=where)


def read_toml(path: Path) -> dict:
    """A TOML file with exact decimals; every failure is a UserError naming the file."""
    return _parse_toml(read_text(path, MAX_FILE_BYTES, "TOML file"), str(path))


def _parse_toml(text: str, where: str) -> dict:
    """TOML with exact decimals; a UserError when it is not TOML (and only then)."""
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except ValueError as exc:  # TOMLDecodeError, and an integer of over 4300 digits (int's own limit)
        raise UserError(f"malformed TOML: {exc}", where) from None
    except RecursionError:
        raise UserError("malformed TOML: nested too deeply", where) from None


def load_case_file(path: Path) -> Problem:
    data = read_toml(path)
    if "problem" not in data:
        raise UserError("missing the [problem] table", str(path))
    return problem_from_table(data["problem"], f"{path}: problem", name=path.stem)


class DocumentNotCase(UserError):
    """A file given where a case is expected that is a document (Markdown, LaTeX, text): `check` stops with
    this line; `explain` writes the correct derivation of the problem read from it."""


def _case_or_document(path: Path) -> Problem:
    """A file not named .toml: a case when it is TOML with a [problem] table; anything else (Markdown, LaTeX,
    text, a notebook) is a document, and checking a document is `verify`'s job — say so, not "malformed TOML"."""
    import shlex
    text = read_text(path, MAX_FILE_BYTES, "case file")
    try:
        data = _parse_toml(text, str(path))
    except UserError:
        data = {}
    if not isinstance(data.get("problem"), dict):
        raise DocumentNotCase("a document, not a case file (TOML with a [problem] table); to check the derivation "
                              f"in it, run: crossgrad verify {shlex.quote(str(path))}", str(path))
    return problem_from_table(data["problem"], f"{path}: problem", name=path.stem)


# --- built-in cases ------------------------------------------------------------------------------

def _tenths(rng: np.random.Generator, shape, lo=-9, hi=10) -> np.ndarray:
    """Small decimals k/10: exact in Fractions, and not exactly representable in binary floats."""
    return to_exact_array((rng.integers(lo, hi, size=shape) / 10).round(1).astype(str).tolist(), "case")


def _seed() -> Problem:
    d = lambda s: Decimal(s)  # noqa: E731
    return make_problem(
        x=to_exact_array([[1, 2, 1], [0, 1, 2], [2, 1, 0]], "seed.input"),
        w=to_exact_array([[d("0.5"), d("0.2")], [d("0.3"), d("0.7")]], "seed.filter"),
        target=to_exact_array([[1, 2], [2, 1]], "seed.target"), lr=Fraction(1, 10), name="seed")


def _random_case(name: str, seed: int, x_shape, w_shape, *, bias=False, **kw) -> Problem:
    rng = np.random.default_rng(seed)
    x, w = _tenths(rng, x_shape), _tenths(rng, w_shape)
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    s2, d2 = pair(kw.get("stride", 1)), pair(kw.get("dilation", 1))
    pad = resolve_padding(kw.get("padding", 0), w_shape[-2:], s2, d2, x_shape[-2:])
    out = (x_shape[0], w_shape[0], *output_hw(x_shape[-2:], w_shape[-2:], s2, pad, d2))
    b = _tenths(rng, (w_shape[0],)) if bias else None
    extra = dict(kw)
    if extra.get("loss") == "linear":
        extra["grad_output"] = _tenths(rng, out)
        target = None
    else:
        target = _tenths(rng, out)
    extra.setdefault("lr", Fraction(1, 10))
    return make_problem(x=x, w=w, target=target, b=b, name=name, **extra)


BUILTIN = {
    "seed": _seed,
    "batch": lambda: _random_case("batch", 1, (2, 2, 4, 4), (3, 2, 2, 2), bias=True),
    "stride_pad": lambda: _random_case("stride_pad", 2, (1, 2, 5, 5), (2, 2, 3, 3), bias=True, stride=2, padding=1),
    "dilation": lambda: _random_case("dilation", 3, (2, 1, 6, 5), (2, 1, 2, 2), dilation=(2, 1), padding=(0, 1)),
    "groups": lambda: _random_case("groups", 4, (1, 4, 4, 4), (6, 2, 2, 2), bias=True, groups=2),
    "same": lambda: _random_case("same", 5, (1, 1, 4, 5), (1, 1, 2, 3), padding="same"),
    "multistep": lambda: _random_case("multistep", 6, (2, 1, 4, 4), (2, 1, 3, 3), bias=True, steps=3),
    "relu_sum_conv": lambda: _random_case("relu_sum_conv", 7, (1, 1, 4, 4), (1, 1, 2, 2), bias=True,
                                          loss="sum", activation="relu", operation="convolution"),
    "upstream": lambda: _random_case("upstream", 8, (1, 1, 5, 5), (1, 1, 3, 3), stride=2, loss="linear"),
}


def builtin(name: str) -> Problem:
    if name not in BUILTIN:
        raise _unknown(name)
    return BUILTIN[name]()


def _unknown(name: str) -> UserError:
    import difflib
    close = difflib.get_close_matches(name, BUILTIN, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UserError(f"unknown case {name!r}{hint}; built-in cases: {', '.join(BUILTIN)} (or give a FILE.toml)")


def resolve(spec: str | None) -> Problem:
    """A built-in case name or a path to a TOML case file (None = the seed)."""
    if spec is None:
        return builtin("seed")
    path = Path(spec)
    if spec in BUILTIN and not path.exists():
        return builtin(spec)
    if path.suffix.lower() == ".toml":
        return load_case_file(path)
    if path.exists():
        return _case_or_document(path)
    raise _unknown(spec)
