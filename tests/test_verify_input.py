"""verify: bad input is one line on stderr and exit 2; rounded inputs, float noise and η inference."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from harness.cli import main
from harness.derivation import Source
from harness.verify import verify
from verify_reference import SEED_W, SEED_X, SEED_Y, claim, derivation, problem, rounded, step

GOOD_PROBLEM = """[problem]
input = [[1, 2, 1], [0, 1, 2], [2, 1, 0]]
filter = [[0.5, 0.2], [0.3, 0.7]]
target = [[1, 2], [2, 1]]
learning_rate = 0.1
"""

BAD = {
    "malformed": ("[problem\ninput = 1", "malformed TOML"),
    "no_problem": ("[claimed]\nloss = 0.365\n", "missing the [problem] table"),
    "no_filter": ("[problem]\ninput = [[1, 2], [3, 4]]\ntarget = [[1]]\n[claimed]\nloss = 1\n", "missing key 'filter'"),
    "no_claims": (GOOD_PROBLEM, "missing the [claimed] table"),
    "ragged": (GOOD_PROBLEM + "[claimed]\ngrad_filter = [[1, 2], [3]]\n", "ragged"),
    "not_a_number": (GOOD_PROBLEM + "[claimed]\nloss = \"abc\"\n", "expected a number"),
    "nan": (GOOD_PROBLEM + "[claimed]\nloss = nan\n", "finite"),
    "inf": (GOOD_PROBLEM + "[claimed]\ngrad_filter = [[inf, 1], [1, 1]]\n", "finite"),
    "wrong_shape": (GOOD_PROBLEM + "[claimed]\ngrad_filter = [[1, 2, 3], [4, 5, 6]]\n", "expected [2, 2]"),
    "unknown_step": (GOOD_PROBLEM + "[claimed]\ngradient = [[1, 2], [3, 4]]\n", "unknown step"),
    "no_bias": (GOOD_PROBLEM + "[claimed]\ngrad_bias = 1\n", "no bias"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exit_2_one_line(tmp_path, capsys, name):
    text, expected = BAD[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    code = main(["verify", str(path)])
    err = capsys.readouterr().err
    assert code == 2, f"observed exit {code}, expected 2 ({name})"
    assert err.count("\n") == 1 and expected in err and str(path) in err, f"observed {err!r}, expected {expected!r}"


def test_missing_file_and_unsupported_suffix(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def _seed_problem(**kw):
    return problem(SEED_X, SEED_W, target=SEED_Y, **kw)


def test_rounded_inputs_accepted_within_interval():
    """The filter the person used had 4 decimals; the document shows it to 2. Claims computed from the
    real filter (to 4 places) fail against the shown filter, and pass within the rounding band."""
    w_true = np.array([[Fraction("0.5031"), Fraction("0.1987")], [Fraction("0.3042"), Fraction("0.6961")]], dtype=object)
    ref = step(SEED_X.reshape(1, 1, 3, 3), w_true.reshape(1, 1, 2, 2), None, target=SEED_Y.reshape(1, 1, 2, 2))
    shown = rounded(w_true, 2)
    p = problem(SEED_X, shown, target=SEED_Y)
    claims = {"output": claim("output", rounded(ref["output"][0, 0], 4), 4),
              "grad_filter": claim("grad_filter", rounded(ref["grad_filter"][0, 0], 4), 4)}
    plain = verify(derivation(p, [claims]))
    assert plain.verdict == "wrong", f"observed {plain.verdict}, expected wrong without the rounding band"
    v = verify(derivation(p, [claims], input_decimals={"filter": np.full((2, 2), 2)}))
    assert v.verdict == "ok", f"observed {[(s.step, s.status, s.message) for s in v.steps]}, expected ok"
    assert all("rounded inputs allow" in s.message for s in v.steps), [s.message for s in v.steps]


def test_float_noise_counts_as_printed_value():
    p = _seed_problem(lr=Fraction(1, 10))
    ref = step(SEED_X.reshape(1, 1, 3, 3), SEED_W.reshape(1, 1, 2, 2), None, target=SEED_Y.reshape(1, 1, 2, 2))
    g = ref["grad_filter"][0, 0].copy()
    g[1, 0] = g[1, 0] + Fraction("5.55e-17")   # 0.05 printed as 0.05000000000000006-ish
    dec = np.full((2, 2), 4)
    dec[1, 0] = 19
    c = claim("grad_filter", g)
    c = type(c)("grad_filter", g, dec, "test.grad_filter", "")
    v = verify(derivation(p, [{"grad_filter": c}]))
    assert v.verdict == "ok", f"observed {[(s.step, s.status, s.message) for s in v.steps]}, expected ok"


def test_learning_rate_inferred_from_update():
    p = _seed_problem()
    w_new = SEED_W - Fraction(1, 2) * np.array([[Fraction("1.3"), 1], [Fraction("0.05"), Fraction("0.95")]], dtype=object)
    v = verify(derivation(p, [{"updated_filter": w_new}]))
    lr = next(c for c in v.conventions if c.name == "learning_rate")
    assert v.verdict == "ok" and lr.value == "0.5" and lr.source.kind == "inferred", f"observed {v.verdict} {lr}"


def test_relu_given_in_problem_checks_activation():
    p = _seed_problem(lr=Fraction(1, 10), activation="relu")
    ref = step(SEED_X.reshape(1, 1, 3, 3), SEED_W.reshape(1, 1, 2, 2), None, target=SEED_Y.reshape(1, 1, 2, 2),
               act="relu", lr=Fraction(1, 10))
    v = verify(derivation(p, [{"activation": ref["activation"][0, 0], "grad_filter": ref["grad_filter"][0, 0]}]))
    assert v.verdict == "ok", f"observed {[(s.step, s.status) for s in v.steps]}"


# W' = W − η·∂L/∂W with η = 1/3: the bottom-right entry is 0.7 − 0.95/3 = 1.15/3 = 0.38333…, written 0.3833.
# The note that lists the entries accepted as rounded names it as the document numbers it.
ROUNDED_POSITION = {
    "one_based": ({"indexing": Source("read", "1-based: line 1, W_{11} (no index 0 written)")}, "((2,2))"),
    "zero_based": ({"indexing": Source("read", "0-based: line 1, W_{00}")}, "((1,1))"),
    "unnumbered": ({}, "((1,1); indices 0-based)"),
}


@pytest.mark.parametrize("name", sorted(ROUNDED_POSITION))
def test_rounded_entry_named_in_the_documents_numbering(name):
    conventions, expected = ROUNDED_POSITION[name]
    p = _seed_problem(lr=Fraction(1, 3))
    value = np.array([[None, None], [None, Fraction("0.3833")]], dtype=object)
    v = verify(derivation(p, [{"updated_filter": claim("updated_filter", value, 4)}], conventions=conventions))
    s = v.steps[0]
    assert s.status == "ok" and s.message == f"right (accepted as rounded to 4 decimals {expected})", \
        f"observed {s.status} {s.message!r}, expected 'accepted as rounded to 4 decimals {expected}' ({name})"
    assert [e.index for e in s.entries] == [(1, 1)], f"observed entry indices {[e.index for e in s.entries]}, expected 0-based (1, 1)"
