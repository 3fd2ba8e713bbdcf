"""`crossgrad sweep`: reproducible draws, planted bugs found, shrunk and rerun, a tolerance that is tight."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shlex
import tomllib
from decimal import Decimal
from fractions import Fraction as F

import array_api_compat.numpy as xp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import impls
import impls.formulas
import impls.manual
from harness import cli
from harness.cases import builtin, problem_from_table
from harness.sweep import draw as D
from harness.sweep import report
from harness.sweep.casefile import to_toml
from harness.sweep.run import Settings, sweep
from impls.base import Config, Step, Trace

from conftest import SEED_HAND


def _argv(command: str) -> list[str]:
    """A printed command (`crossgrad …` or `python -m harness …`) as arguments for cli.main."""
    words = shlex.split(command)
    start = 1 if words[0] == "crossgrad" else 3
    assert words[:start] in (["crossgrad"], ["python", "-m", "harness"]), f"observed {command!r}, expected a crossgrad command"
    return words[start:]


def _buggy_manual(monkeypatch):
    """`manual` replaced by a copy of the hand derivation whose ∂L/∂W drops one term: the product of
    the last output position (the seed document's own mistake, in general form)."""
    spec = importlib.util.spec_from_file_location("buggy_formulas", impls.formulas.__file__)
    bug = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bug)
    correct = bug.grad_filter

    def grad_filter(xp_, delta, cols, w_shape, groups):
        dropped = delta.copy()
        dropped[:, :, -1, -1] = 0
        return correct(xp_, dropped, cols, w_shape, groups)

    bug.grad_filter = grad_filter

    def run(problem, config=Config()):
        a = problem.float_arrays(np.dtype(config.dtype))
        res = bug.run_steps(xp, problem, a["x"], a["w"], a["b"], a["target"], a["grad_output"])
        return Trace("manual", tuple(Step(**{k: None if v is None else np.asarray(v) for k, v in q.items()})
                                     for q in res))

    monkeypatch.setattr(impls.manual, "run", run)


# --- reproducibility ----------------------------------------------------------------------------

def test_same_seed_draws_the_same_configurations():
    a, b = D.draw(7, 40), D.draw(7, 40)
    assert a == b, "observed different configurations from the same seed, expected the same"
    for ca, cb in zip(a, b):
        for key in ("x", "w", "b", "target", "grad_output"):
            va, vb = getattr(ca.problem, key), getattr(cb.problem, key)
            assert (va is None and vb is None) or (va == vb).all(), f"observed different {key} (case {ca.index})"
    assert D.draw(8, 40) != a, "observed the same configurations from seeds 7 and 8, expected different ones"


def test_configuration_i_does_not_depend_on_count_or_order():
    """What `--only I` relies on: case I is the same alone, in a short sweep or in a long one."""
    long = D.draw(3, 60)
    for i in (0, 9, 10, 37, 59):
        assert D.draw_case(3, i) == long[i], f"observed a different configuration {i} when drawn alone"
    assert D.draw(3, 15) == long[:15]


def test_families_repeat_shapes_for_compiled_functions():
    """Each family of FAMILY_SIZE shares its geometry (jax compiles once per shape) with varied values."""
    cases = D.draw(0, 2 * D.FAMILY_SIZE)
    fam = cases[:D.FAMILY_SIZE]
    assert len({c.geometry for c in fam}) == 1, "observed several geometries in one family, expected one"
    assert len({c.values for c in fam}) == D.FAMILY_SIZE, "observed repeated value sets, expected distinct"
    assert cases[0].geometry != cases[D.FAMILY_SIZE].geometry


def test_draws_are_valid_small_and_cover_every_convention():
    cases = D.draw(1, 1000, max_size=300)
    seen = {f for c in cases for f in c.features()}
    want = {"batch", "channels", "groups", "non-square kernel", "stride", "dilation", "padding same",
            "padding asymmetric", "padding", "bias", "convolution", "relu", "no update", "steps>1", "2-D layout",
            *(f"loss {loss}" for loss in ("mean", "sum", "half_sum", "half_mean", "linear")),
            *(f"values {s}" for s in D.STYLES)}
    assert want <= seen, f"observed no configuration with {sorted(want - seen)}"
    for c in cases:
        assert c.geometry.multiply_adds <= 300, f"observed {c.geometry.multiply_adds} multiply-adds (case {c.index})"
        assert c.problem.out_shape == (c.geometry.n, c.geometry.c_out, *c.geometry.out_hw)


def test_relu_configurations_keep_z_off_the_kink():
    """With ReLU, Z = Σ x·W (+ b, half a grid step off) is never 0 — checked with plain Python sums."""
    relu = [c for c in D.draw(2, 300) if c.geometry.activation == "relu"][:40]
    assert relu, "observed no ReLU configuration"
    for c in relu:
        p = c.problem
        (t, _), (l, _) = p.padding
        n, c_out, ho, wo = p.out_shape
        cg, kh, kw = p.w.shape[1:]
        w = p.w[:, :, ::-1, ::-1] if p.operation == "convolution" else p.w
        for idx in np.ndindex(n, c_out, ho, wo):
            b, o, i, j = idx
            g0 = (o // (c_out // p.groups)) * cg
            z = p.b[o]
            for c_, u, v in np.ndindex(cg, kh, kw):
                r, s = i * p.stride[0] + u * p.dilation[0] - t, j * p.stride[1] + v * p.dilation[1] - l
                if 0 <= r < p.x.shape[2] and 0 <= s < p.x.shape[3]:
                    z += p.x[b, g0 + c_, r, s] * w[o, c_, u, v]
            assert z != 0, f"observed Z{list(idx)} = 0, expected Z ≠ 0 (case {c.index})"


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), index=st.integers(0, 10_000))
def test_case_files_read_back_exactly(seed, index):
    p = D.draw_case(seed, index, max_size=200).problem
    q = problem_from_table(tomllib.loads(to_toml(p), parse_float=Decimal)["problem"], "t")
    for key in ("x", "w", "b", "target", "grad_output"):
        a, b = getattr(p, key), getattr(q, key)
        assert (a is None) == (b is None) and (a is None or (a.shape == b.shape and (a == b).all())), \
            f"observed {key} changed by the TOML round trip (seed {seed}, case {index})"
    for key in ("lr", "stride", "padding", "dilation", "groups", "steps", "loss", "operation", "activation", "layout"):
        assert getattr(p, key) == getattr(q, key), f"observed {key} {getattr(q, key)}, expected {getattr(p, key)}"


# --- finding bugs -------------------------------------------------------------------------------

def test_planted_bug_is_found_shrunk_and_the_rerun_commands_work(monkeypatch, tmp_path, capsys):
    _buggy_manual(monkeypatch)
    out = str(tmp_path)
    rc = cli.main(["sweep", "--count", "20", "--seed", "0", "--impl", "exact,manual", "--out", out, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1, f"observed exit {rc}, expected 1 (mismatches)"
    groups = {(g["impl"], g["quantity"]): g for g in data["mismatch_groups"]}
    assert ("manual", "grad_filter") in groups, f"observed groups {sorted(groups)}, expected manual·grad_filter"
    assert ("exact", "grad_filter") not in groups
    g = groups[("manual", "grad_filter")]
    shrunk = g["shrunk"]
    # the smallest failure: a single output position suffices for a dropped last-position term
    assert shrunk["shapes"]["output"][2:] == [1, 1] or np.prod(shrunk["shapes"]["output"]) <= 2, \
        f"observed a shrunk output of shape {shrunk['shapes']['output']}, expected one or two positions"
    assert np.prod(shrunk["shapes"]["input"]) <= 4 and np.prod(shrunk["shapes"]["filter"]) <= 2, \
        f"observed shrunk shapes {shrunk['shapes']}, expected tiny ones"
    # both printed commands reproduce the failure …
    for command in (g["smallest_drawn"]["rerun"], shrunk["rerun"]):
        rc = cli.main(_argv(command))
        text = capsys.readouterr().out
        assert rc == 1 and "grad_filter" in text, f"observed exit {rc} from {command!r}, expected 1 naming grad_filter"
    # … and pass once the bug is gone (so they test the derivation, not something else)
    monkeypatch.undo()
    for command in (g["smallest_drawn"]["rerun"], shrunk["rerun"]):
        rc = cli.main(_argv(command))
        capsys.readouterr()
        assert rc == 0, f"observed exit {rc} from {command!r} with the correct manual, expected 0"


def test_shrunk_case_matches_hand_arithmetic(monkeypatch, tmp_path, capsys):
    """The shrunk case file, checked by hand: the buggy ∂L/∂W is off by exactly its dropped term."""
    _buggy_manual(monkeypatch)
    cli.main(["sweep", "--count", "10", "--seed", "0", "--impl", "exact,manual", "--out", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    g = next(g for g in data["mismatch_groups"] if g["quantity"] == "grad_filter")
    table = tomllib.loads(open(g["shrunk"]["case_file"]).read(), parse_float=Decimal)["problem"]
    p = problem_from_table(table, "shrunk")
    x, w = p.x[0, 0], p.w[0, 0]
    ho, wo = p.out_hw
    kh, kw = w.shape
    # by hand: Ŷ[i,j] = Σ x[i+u, j+v]·W[u,v] (+ b); ∂L/∂Ŷ per the loss; ∂L/∂W[u,v] = Σ_ij ∂L/∂Ŷ[i,j]·x[i+u, j+v]
    assert p.x.shape[:2] == (1, 1) and p.w.shape[:2] == (1, 1), f"observed shapes {p.x.shape}, {p.w.shape}"
    assert p.padding == ((0, 0), (0, 0)) and p.stride == (1, 1) and p.dilation == (1, 1) and p.activation == "none"
    y = [[sum(x[i + u, j + v] * w[u, v] for u in range(kh) for v in range(kw)) + (p.b[0] if p.b is not None else 0)
          for j in range(wo)] for i in range(ho)]
    if p.loss == "linear":
        dy = p.grad_output[0, 0]
    else:
        scale = {"mean": F(2, ho * wo), "sum": 2, "half_sum": 1, "half_mean": F(1, ho * wo)}[p.loss]
        dy = np.array([[scale * (y[i][j] - p.target[0, 0, i, j]) for j in range(wo)] for i in range(ho)], dtype=object)
    last = [[dy[ho - 1, wo - 1] * x[ho - 1 + u, wo - 1 + v] for v in range(kw)] for u in range(kh)]
    observed = impls.manual.run(p, Config()).steps[0].grad_filter[0, 0]
    truth = impls.load("exact").run(p).steps[0].grad_filter[0, 0]
    for u in range(kh):
        for v in range(kw):
            want = sum(dy[i, j] * x[i + u, j + v] for i in range(ho) for j in range(wo))
            assert truth[u, v] == want, f"observed exact {truth[u, v]}, expected {want} by hand"
            assert observed[u, v] == pytest.approx(float(want - last[u][v]), abs=1e-12), \
                f"observed buggy {observed[u, v]}, expected {float(want - last[u][v])} (the term dropped)"
    assert any(last[u][v] != 0 for u in range(kh) for v in range(kw)), "expected the dropped term to be nonzero"


def _plant_relative_error(monkeypatch, relative: float):
    """`manual` with its largest |∂L/∂W| entry of step 1 off by `relative` of itself."""
    real = impls.manual.run

    def run(problem, config=Config()):
        trace = real(problem, config)
        first = trace.steps[0]
        g = np.array(first.grad_filter, copy=True)
        i = np.unravel_index(np.argmax(np.abs(g)), g.shape)
        g[i] = g[i] * (1 + relative)
        return dataclasses.replace(trace, steps=(dataclasses.replace(first, grad_filter=g),) + trace.steps[1:])

    monkeypatch.setattr(impls.manual, "run", run)


def test_float64_tolerance_catches_a_tiny_planted_error(monkeypatch):
    """An error of 1e-11 relative (~45 000 ulps; 10⁵ times below float32's precision) in one entry of
    ∂L/∂W is caught on every configuration, and 1e-13 (~450 ulps) on the seed."""
    _plant_relative_error(monkeypatch, 1e-11)
    result = sweep(Settings(seed=5, count=40, impls=("exact", "manual")))
    caught = [c for c in result.cases if ("manual", "grad_filter") in c.failing() or c.skipped]
    assert len(caught) == 40, (f"observed {40 - len(caught)} configurations where a 1e-11 error passed, "
                               f"e.g. #{next(c.case.index for c in result.cases if c not in caught)}")
    monkeypatch.undo()
    _plant_relative_error(monkeypatch, 1e-13)
    from harness.run import run_all
    r = run_all(builtin("seed"), ("manual",), Config())
    bad = [m for m in r.comparisons["manual"].mismatches if m.quantity == "grad_filter"]
    assert bad and bad[0].expected == float(SEED_HAND["grad_filter"][0, 0]), \
        f"observed {bad}, expected the planted error at ∂L/∂W[0,0] = 1.3 of the seed to be caught"


def test_tolerance_is_within_two_orders_of_the_real_errors():
    """Tight, not only safe: the largest real rounding error reaches ≥ 1% of the allowed bound."""
    result = sweep(Settings(seed=0, count=40, impls=("exact", "manual")))
    worst = max(r for c in result.cases for (i, _), r in c.headroom.items() if i == "manual")
    assert 0.01 <= worst < 1, f"observed max |error|/allowed = {worst:.3g}, expected within [0.01, 1)"


# --- half precision: draws fitted to the dtype, no false alarms, bugs still found ----------------------

def test_float16_draws_fit_float16_and_wider_dtypes_draw_as_before():
    """float16: every exact quantity of step 1 (Fractions, not our magnitudes) and every input lies within
    float16's finite range, unless the draw has nothing left to fit (exponents 0: the runner skips
    those). float32 / float64 / bfloat16: exactly the draws sized for float32, unfitted."""
    from harness.run import reference_for
    largest = float(np.finfo(np.float16).max)
    cases = D.draw(0, 60, dtype="float16")
    for c in cases:
        g = c.geometry
        raw = D.Case(c.index, g, D.draw_values(D._rng(0, c.index, 2), g))
        assert c.values.seed == raw.values.seed and c.values.style == raw.values.style, "expected the same numbers"
        if (c.values.x_exp, c.values.w_exp, c.values.g_exp) == (0, 0, 0) and D.misfit(c.problem, "float16"):
            continue
        p = c.problem
        step = reference_for(p).steps[0]
        values = [v for k in ("x", "w", "b", "target", "grad_output") if (v := getattr(p, k)) is not None]
        values += [v for q in ("output", "loss", "grad_output", "grad_filter", "grad_input", "grad_bias",
                               "updated_filter", "updated_bias") if (v := getattr(step, q)) is not None]
        top = max(float(np.max(np.abs(np.asarray(v, dtype=object)))) for v in values)
        assert top <= largest, f"observed |value| {top:.3g} > {largest} (case {c.index}: {c.describe()})"
    scaled = [c for c in cases if c.values.style in D.EXPONENTS]
    assert any(c.values.x_exp or c.values.w_exp for c in scaled), "expected tiny/large/mixed to keep some scale"
    for dtype in ("float32", "float64", "bfloat16"):
        for c in D.draw(0, 60, dtype=dtype):
            raw = D.draw_values(D._rng(0, c.index, 2), c.geometry)
            assert c.values == raw, f"observed {c.values}, expected the unfitted draw {raw} ({dtype}, case {c.index})"


def test_float16_sweep_agrees_and_a_planted_bug_is_still_found(monkeypatch, tmp_path, capsys):
    """The correct derivation passes in float16 (underflow within the λ term, overflow skipped); the
    dropped-term bug is found, shrunk, and its rerun commands reproduce it, then pass once it is gone."""
    out = str(tmp_path)
    args = ["sweep", "--count", "20", "--seed", "0", "--dtype", "float16", "--impl", "exact,manual", "--out", out]
    rc = cli.main(args + ["--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["agree"], f"observed exit {rc}, mismatches {data['mismatch_groups']}, expected none"
    _buggy_manual(monkeypatch)
    rc = cli.main(args + ["--json"])
    data = json.loads(capsys.readouterr().out)
    groups = {(g["impl"], g["quantity"]): g for g in data["mismatch_groups"]}
    assert rc == 1 and ("manual", "grad_filter") in groups, f"observed exit {rc}, groups {sorted(groups)}"
    g = groups[("manual", "grad_filter")]
    commands = [g["smallest_drawn"]["rerun"], g["shrunk"]["rerun"]]
    assert all("--dtype float16" in c for c in commands), f"observed {commands}"
    for command in commands:
        rc = cli.main(_argv(command))
        text = capsys.readouterr().out
        assert rc == 1 and "grad_filter" in text, f"observed exit {rc} from {command!r}, expected 1 naming grad_filter"
    monkeypatch.undo()
    for command in commands:
        rc = cli.main(_argv(command))
        capsys.readouterr()
        assert rc == 0, f"observed exit {rc} from {command!r} with the correct manual, expected 0"


def test_configurations_beyond_the_range_are_skipped_and_counted(tmp_path, capsys):
    beyond = [c.index for c in D.draw(0, 40, dtype="float16") if D.misfit(c.problem, "float16")][:2]
    assert beyond, "expected some float16 draw of seed 0 that does not fit float16"
    rc = cli.main(["sweep", "--only", ",".join(map(str, beyond)), "--dtype", "float16", "--impl", "exact,manual",
                   "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert rc == 0 and f"{len(beyond)} beyond float16's finite range" in text, f"observed exit {rc}, output {text!r}"
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert data["skipped_by_kind"] == {"out of range": len(beyond)} and data["agree"], f"observed {data['skipped']}"
    assert "beyond float16's finite range" in next(tmp_path.glob("*.md")).read_text()


# --- the command ---------------------------------------------------------------------------------

def test_sweep_all_implementations_agree_and_reports(tmp_path, capsys):
    """Every implementation on ordinary magnitudes (the tiny/large styles are where fd's step size is
    tested, in the full sweep and its report)."""
    only = [c.index for c in D.draw(0, 40) if c.values.style in ("tenths", "integers", "dyadic")][:10]
    rc = cli.main(["sweep", "--only", ",".join(map(str, only)), "--seed", "0", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    stem = "sweep-cpu-float64-only-" + "-".join(map(str, only[:5]))
    data = json.loads((tmp_path / f"{stem}.json").read_text())
    assert rc == 0 and data["agree"], f"observed exit {rc}, mismatches {data['mismatch_groups']}, expected none"
    assert data["configurations_run"] == 10 and data["configurations_per_second"] > 0
    assert not data["unavailable"], f"observed unavailable {data['unavailable']}"
    ran = set(data["time_split_seconds"])
    assert set(impls.MODULES) <= ran, f"observed timings for {sorted(ran)}, expected every implementation"
    assert "configurations" in text and "/s" in text
    assert (tmp_path / f"{stem}.md").read_text().startswith("# crossgrad sweep")
    assert report.command(Settings(seed=0, count=10), str(tmp_path)).endswith(
        f"sweep --count 10 --seed 0 --dtype float64 --out {tmp_path}")


def test_ctrl_c_prints_the_partial_summary_and_exits_130(monkeypatch, tmp_path, capsys):
    from harness.sweep import run as sweep_run
    real, calls = sweep_run.run_case, []

    def run_case(*args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sweep_run, "run_case", run_case)
    rc = cli.main(["sweep", "--count", "50", "--impl", "exact,manual", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert rc == 130, f"observed exit {rc}, expected 130"
    assert "3 configurations" in text and "interrupted" in text, f"observed {text!r}, expected a partial summary"
    assert json.loads((tmp_path / "sweep-cpu-float64.json").read_text())["interrupted"] is True


@pytest.mark.parametrize("args, where", [
    (["--only", "x"], "--only"), (["--count", "0"], "--count"), (["--max-size", "0"], "--max-size"),
    (["--impl", "nope"], "--impl")], ids=["only", "count", "max-size", "impl"])
def test_bad_arguments_are_one_line_exit_2(args, where, capsys, tmp_path):
    rc = cli.main(["sweep", *args, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and where in err and len(err.strip().splitlines()) == 1, f"observed exit {rc}, stderr {err!r}"
