"""verify on the seed document and the shipped examples; expected values are the seed's hand-derived numbers
(brief / issue 4): Ŷ=[[1.6,2.9],[1.5,1.2]], L=0.365, ∂L/∂W=[[1.3,1.0],[0.05,0.95]], W'=[[0.37,0.1],[0.295,0.605]]."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.verify import read_toml_derivation, to_json, verify

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"


def run_json(name: str) -> dict:
    return to_json(verify(read_toml_derivation(EX / name)))


def test_seed_statuses_and_diagnosis():
    v = run_json("seed.toml")
    got = {s["step"]: (s["status"], s["diagnosis"]) for s in v["steps"]}
    expected = {"output": ("ok", []), "loss": ("ok", []), "grad_filter": ("wrong", ["partial_sum"]),
                "updated_filter": ("carried", [])}
    assert got == expected, f"observed {got}, expected {expected} (seed.toml)"
    g = next(s for s in v["steps"] if s["step"] == "grad_filter")
    missing = g["diagnoses"][0]["missing"]
    assert sorted(missing) == [[0, 1], [1, 1]], f"observed missing {missing}, expected (0,1) and (1,1)"
    assert g["true"] == "[[1.3, 1], [0.05, 0.95]]", f"observed true ∂L/∂W {g['true']}"
    u = next(s for s in v["steps"] if s["step"] == "updated_filter")
    assert u["true"] == "[[0.37, 0.1], [0.295, 0.605]]", f"observed true W' {u['true']}"
    assert "∂L/∂W₀₀ = 0.3·1 + 0.45·2 + (-0.25)·0 + 0.1·1 = 1.3" in g["sums"], f"observed sums {g['sums']}"
    assert v["verdict"] == "wrong" and v["summary"].startswith("The derivation breaks at ∂L/∂W")
    assert v["conventions"]["loss"]["source"] == "declared"
    assert v["conventions"]["operation"]["source"] == "default"


def test_seed_cli_exit_code_and_plain_report(capsys):
    code = main(["verify", str(EX / "seed.toml")])
    out = capsys.readouterr().out
    assert code == 1, f"observed exit {code}, expected 1"
    assert "WRONG" in out and "CARRIED" in out and "[[0.37, 0.1], [0.295, 0.605]]" in out
    assert "(0,1) and (1,1)" in out


EXPECTED = {
    "correct.toml": ("ok", {}),
    "sign_flip.toml": ("wrong", {"grad_filter": ("wrong", "sign_flip"), "updated_filter": ("carried", None)}),
    "scale.toml": ("wrong", {"grad_filter": ("wrong", "scale"), "updated_filter": ("carried", None)}),
    "flipped_kernel.toml": ("wrong", {"output": ("wrong", "flipped_kernel")}),
    "transposed.toml": ("wrong", {"grad_filter": ("wrong", "transposed")}),
    "update_sign.toml": ("wrong", {"grad_filter": ("ok", None), "updated_filter": ("wrong", "update_sign")}),
    "arithmetic.toml": ("wrong", {"grad_filter": ("wrong", "arithmetic"), "updated_filter": ("carried", None)}),
    "upstream_stride2.toml": ("ok", {}),
    "upstream_missing_terms.toml": ("wrong", {"grad_filter": ("ok", None), "grad_input": ("wrong", "partial_sum")}),
    "sum_of_squares.toml": ("ok", {}),
    "sum_of_squares_undeclared.toml": ("wrong", {"loss": ("wrong", "convention"), "grad_filter": ("carried", None)}),
    "error_sign.toml": ("ok", {}),
    "no_learning_rate.toml": ("wrong", {"grad_filter": ("wrong", "partial_sum"), "updated_filter": ("carried", None)}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=lambda n: n.removesuffix(".toml"))
def test_examples(name):
    verdict, steps = EXPECTED[name]
    v = run_json(name)
    assert v["verdict"] == verdict, f"observed {v['verdict']}, expected {verdict} ({name}: {v['summary']})"
    got = {s["step"]: s for s in v["steps"] if s["iteration"] == 1}
    for q, (status, code) in steps.items():
        assert got[q]["status"] == status, f"observed {q} {got[q]['status']}, expected {status} ({name})"
        if code:
            assert code in got[q]["diagnosis"], f"observed {got[q]['diagnosis']}, expected {code} ({name})"
    if verdict == "ok":
        assert all(s["status"] == "ok" for s in v["steps"]), f"observed {v['steps']} ({name})"


def test_multistep_example_breaks_at_step_two():
    v = run_json("multistep.toml")
    got = {(s["iteration"], s["step"]): s["status"] for s in v["steps"]}
    assert all(got[(1, q)] == "ok" for q in ("output", "loss", "grad_filter", "updated_filter")), got
    assert got[(2, "grad_filter")] == "wrong" and got[(2, "updated_filter")] == "carried", got
    assert all(got[(3, q)] == "carried" for q in ("output", "loss", "grad_filter", "updated_filter")), got


def test_conventions_and_their_sources():
    v = run_json("sum_of_squares.toml")
    assert v["conventions"]["loss"] == {"value": "sum", "source": "declared", "detail": "problem.loss",
                                        "described": "declared in the file (problem.loss)"}
    u = run_json("sum_of_squares_undeclared.toml")
    assert u["conventions"]["loss"]["source"] == "default"
    loss = next(s for s in u["steps"] if s["step"] == "loss")
    assert 'declare loss = "sum"' in loss["message"], f"observed {loss['message']}"
    e = run_json("error_sign.toml")
    assert e["conventions"]["backward_signal"]["source"] == "inferred", f"observed {e['conventions']}"
    n = run_json("no_learning_rate.toml")
    assert n["conventions"]["learning_rate"]["value"] == "0.1" and n["conventions"]["learning_rate"]["source"] == "inferred"


def test_verify_does_not_import_torch_jax_or_rich():
    code = ("import sys; from harness.cli import main; "
            "rc = main(['verify', 'examples/seed.toml', '--json']); "
            "bad = [m for m in ('torch', 'jax', 'rich') if m in sys.modules]; "
            "sys.stderr.write(repr(bad)); sys.exit(9 if bad else rc)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1, f"observed exit {r.returncode}, stderr {r.stderr!r}, expected 1 and no torch/jax/rich"
    assert json.loads(r.stdout)["verdict"] == "wrong"


def test_show_parsed(capsys):
    main(["verify", str(EX / "seed.toml"), "--show-parsed"])
    out = capsys.readouterr().out
    assert "loss = mean (declared in the file (problem.loss))" in out
    assert "grad_filter [2, 2] from" in out and "claimed.grad_filter" in out
