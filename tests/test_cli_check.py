"""`crossgrad check` end to end: exit codes, the JSON schema, reports, missing frameworks, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from conftest import ROOT, SEED_HAND
from harness.cli import main

JSON_STEP_KEYS = {"output", "loss", "grad_output", "grad_filter", "grad_input", "grad_bias", "updated_filter",
                  "updated_bias"}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_seed_json_has_the_documented_keys_and_values(capsys, tmp_path):
    code, out, err = run_cli(capsys, "check", "--impl", "exact,manual", "--json", "--out", str(tmp_path))
    assert code == 0, err
    data = json.loads(out)
    assert {"case", "device", "dtype", "agree", "impls", "mismatches", "versions"} <= set(data)
    assert data["case"] == "seed" and data["agree"] is True and data["mismatches"] == []
    for name in ("exact", "manual"):
        step = data["impls"][name]["steps"][0]
        assert JSON_STEP_KEYS <= set(step)
        assert step["grad_bias"] is None and step["updated_bias"] is None   # the seed has no bias
        for q in ("output", "grad_filter", "updated_filter"):       # user's 2-D shape kept
            np.testing.assert_allclose(step[q], SEED_HAND[q].astype(float), rtol=1e-12, atol=1e-15)
        assert step["loss"] == pytest.approx(0.365, rel=1e-12)
    assert (tmp_path / "check-seed-cpu-float64.json").exists() and (tmp_path / "check-seed-cpu-float64.md").exists()
    saved = json.loads((tmp_path / "check-seed-cpu-float64.json").read_text())
    assert saved["reference"]["steps"][0]["grad_filter"] == [["13/10", "1"], ["1/20", "19/20"]]


def test_planted_bug_is_a_mismatch_naming_quantity_index_and_values(capsys, tmp_path, monkeypatch):
    import impls.manual as manual

    real = manual.run

    def buggy(problem, config):
        trace = real(problem, config)
        s = trace.steps[0]
        dW = s.grad_filter.copy()
        dW[0, 0, 0, 1] += 1e-3            # one entry off by a tiny amount
        return replace(trace, steps=(replace(s, grad_filter=dW),))

    monkeypatch.setattr(manual, "run", buggy)
    code, out, err = run_cli(capsys, "check", "--impl", "exact,manual", "--json", "--out", str(tmp_path))
    assert code == 1
    data = json.loads(out)
    assert data["agree"] is False
    [m] = [m for m in data["mismatches"] if m["quantity"] == "grad_filter"]
    assert m["impl"] == "manual" and m["index"] == [0, 1] and m["step"] == 1
    assert m["expected"] == pytest.approx(1.0) and m["observed"] == pytest.approx(1.001)


def test_missing_framework_is_reported_and_the_rest_runs(capsys, tmp_path, monkeypatch):
    import impls
    real = impls.unavailable
    monkeypatch.setattr(impls, "unavailable", lambda n: "No module named 'torch'" if n == "torch" else real(n))
    code, out, err = run_cli(capsys, "check", "--impl", "exact,manual,torch".replace(",torch", ""),
                             "--no-report")
    assert code == 0
    code, out, err = run_cli(capsys, "check", "--no-report")
    assert "torch: unavailable: No module named 'torch'" in out
    code, out, err = run_cli(capsys, "check", "--impl", "manual,torch", "--no-report")
    assert code == 2 and "torch is unavailable" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("body,fragment", [
    ("[problem]\ninput = [[1, 2], [3, 4]]\nfilter = [[1, 2, 3]]\ntarget = [[1]]\n", "does not fit"),
    ("[problem]\ninput = [[1, 2], [3, 4]]\nfilter = [[1]]\ntarget = [[1]]\n", "target has shape [1, 1]"),
    ("[problem]\ninput = [[1, 'x'], [3, 4]]\nfilter = [[1]]\ntarget = [[1, 1], [1, 1]]\n", "expected a number"),
    ("[problem]\nfilter = [[1]]\ntarget = [[1]]\n", "missing key 'input'"),
    ("[problem\ninput = 1\n", "malformed TOML"),
    ("title = 'no problem table'\n", "missing the [problem] table"),
], ids=["filter-too-big", "target-shape", "non-numeric", "missing-key", "malformed", "no-table"])
def test_bad_case_files_exit_2_with_one_line(capsys, tmp_path, body, fragment):
    f = tmp_path / "case.toml"
    f.write_text(body)
    code, out, err = run_cli(capsys, "check", str(f), "--impl", "exact,manual", "--no-report")
    assert code == 2, (out, err)
    assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv,fragment", [
    (["check", "nosuch"], "unknown case"),
    (["check", "--impl", "manual,numba"], "unknown implementation 'numba'"),
    (["check", "--dtype", "int8"], "invalid choice"),
    (["check", "--steps", "0"], "--steps"),
], ids=["case", "impl", "dtype", "steps"])
def test_bad_usage_exit_2(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "harness", *argv, "--no-report"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_case_file_round_trip(capsys, tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text("[problem]\ninput = [[1, 2, 1], [0, 1, 2], [2, 1, 0]]\nfilter = [[0.5, 0.2], [0.3, 0.7]]\n"
                 "target = [[1, 2], [2, 1]]\nlearning_rate = 0.1\nsteps = 2\n")
    code, out, err = run_cli(capsys, "check", str(f), "--impl", "exact,manual", "--json", "--no-report")
    assert code == 0, err
    data = json.loads(out)
    assert data["case"] == "mine" and len(data["impls"]["exact"]["steps"]) == 2
    np.testing.assert_allclose(data["impls"]["exact"]["steps"][0]["updated_filter"],
                               SEED_HAND["updated_filter"].astype(float), rtol=1e-15)


def test_no_command_is_a_check_of_the_seed(capsys):
    """`crossgrad [options]` is `crossgrad check [options]` (the README's main job)."""
    code, out, err = run_cli(capsys, "--impl", "exact", "--json", "--no-report")
    assert code == 0, err
    assert json.loads(out)["case"] == "seed"


def test_values_beyond_float16_are_noted_not_left_as_bare_mismatches(capsys, tmp_path):
    """x up to 300 with the seed's filter: ∂L/∂W[0,0] = Σ 2/4·(Ŷ−Y)·x has |terms| summing past 65504
    (by hand: Ŷ[0,0] = 0.5·300+0.2·200+0.7·100 = 260, so one term alone is 0.5·259·300 ≈ 3.9e4)."""
    case = tmp_path / "big.toml"
    case.write_text("[problem]\nx = [[300, 200, 100], [0, 100, 200], [200, 100, 0]]\n"
                    "w = [[0.5, 0.2], [0.3, 0.7]]\ntarget = [[1, 2], [2, 1]]\nlr = 0.1\n")
    main(["check", str(case), "--dtype", "float16", "--impl", "exact,manual", "--json", "--no-report"])
    half = json.loads(capsys.readouterr().out)
    assert half["out_of_range"] and "65504" in half["out_of_range"], f"observed {half['out_of_range']!r}"
    main(["check", str(case), "--impl", "exact,manual", "--json", "--no-report"])
    assert json.loads(capsys.readouterr().out)["out_of_range"] is None, "float64 holds these values"
