"""verify on the seed document and the shipped examples; expected values are the seed's hand-derived numbers
(brief / issue 4): Ŷ=[[1.6,2.9],[1.5,1.2]], L=0.365, ∂L/∂W=[[1.3,1.0],[0.05,0.95]], W'=[[0.37,0.1],[0.295,0.605]]."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.importer import read_document
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
    # a TOML file writes no index: the shown ones are 0-based and say so
    assert "∂L/∂W₀₀ = 0.3·1 + 0.45·2 + (-0.25)·0 + 0.1·1 = 1.3 (indices 0-based)" in g["sums"], f"observed sums {g['sums']}"
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


# --- indices in the document's own numbering -----------------------------------------------------------
# The seed problem (x, W, Y above, mean loss): δ = (2/4)(Ŷ − Y) = [[0.3, 0.45], [-0.25, 0.1]] and the true
# ∂L/∂W = [[1.3, 1], [0.05, 0.95]]; the bottom-right entry is δ₀₀·1 + δ₀₁·2 + δ₁₀·1 + δ₁₁·0 = 0.95 (0-based).

SEED_DOC = r"""# One step by hand

$$X = \begin{bmatrix} 1 & 2 & 1 \\ 0 & 1 & 2 \\ 2 & 1 & 0 \end{bmatrix}$$

$$W = \begin{bmatrix} 0.5 & 0.2 \\ 0.3 & 0.7 \end{bmatrix}$$

$$Y = \begin{bmatrix} 1 & 2 \\ 2 & 1 \end{bmatrix}$$

Loss: $L = \frac{1}{4} \sum (\hat{Y} - Y)^2$.

"""


def _grads(names_values) -> str:
    return "\n".join(rf"$$\frac{{\partial L}}{{\partial W_{{{n}}}}} = {v}$$" + "\n" for n, v in names_values)


INDEX_DOCS = {
    # W₂₂ (1-based) written 0.85 instead of 0.95: the headline must name W₂₂, not W₁₁.
    "one_based_arithmetic": (
        SEED_DOC + _grads([("11", "1.3"), ("12", "1"), ("21", "0.05"), ("22", "0.85")]),
        1, ["an arithmetic slip: ∂L/∂W₂₂ is 0.85, should be 0.95 [arithmetic]"],
        ["∂L/∂W₂₂ = 0.3·1 + 0.45·2 + (-0.25)·1 + 0.1·0 = 0.95"], ("entries", [{"index": [1, 1]}])),
    # the same slip written 0-based: W₁₁ is the bottom-right entry, and no "(0-based)" mark is needed.
    "zero_based_arithmetic": (
        SEED_DOC + _grads([("00", "1.3"), ("01", "1"), ("10", "0.05"), ("11", "0.85")]),
        0, ["an arithmetic slip: ∂L/∂W₁₁ is 0.85, should be 0.95 [arithmetic]"],
        ["∂L/∂W₁₁ = 0.3·1 + 0.45·2 + (-0.25)·1 + 0.1·0 = 0.95"], ("entries", [{"index": [1, 1]}])),
    # the seed's own mistake, 1-based: output positions (0,1), (1,1) left out are the document's (1,2), (2,2);
    # the kept terms of W₁₁ are δ₁₁·X₁₁ + δ₂₁·X₂₁ = 0.3·1 + (-0.25)·0.
    "one_based_partial_sum": (
        SEED_DOC + _grads([("11", "0.3"), ("12", "0.35"), ("21", "-0.5"), ("22", "0.05")]),
        1, ["the sum leaves out output positions (1,2) and (2,2) in every entry",
            "e.g. you have ∂L/∂W₁₁ = 0.3·1 + (-0.25)·0 = 0.3 [partial_sum]"],
        ["∂L/∂W₁₁ = 0.3·1 + 0.45·2 + (-0.25)·0 + 0.1·1 = 1.3"], ("missing", [[0, 1], [1, 1]])),
}


def _verify_text(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.md"
    path.write_text(text)
    return verify(read_document(path))


@pytest.mark.parametrize("name", sorted(INDEX_DOCS))
def test_indices_in_the_documents_numbering(tmp_path, name):
    text, base, headline, sums, (detail, expected) = INDEX_DOCS[name]
    v = _verify_text(tmp_path, name, text)
    for part in headline:
        assert part in v.summary, f"observed summary {v.summary!r}, expected {part!r} ({name})"
    assert "0-based)" not in v.summary, f"observed {v.summary!r}: the document numbers its entries ({name})"
    g = next(s for s in v.steps if s.step == "grad_filter")
    for line in sums:
        assert line in g.sums, f"observed sums {g.sums}, expected {line!r} ({name})"
    j = to_json(v)
    assert j["index_base"] == base, f"observed index_base {j['index_base']}, expected {base} ({name})"
    d = j["steps"][0]["diagnoses"][0]
    got = d[detail] if detail == "missing" else [{"index": e["index"]} for e in d[detail]]
    assert got == expected, f"observed JSON {detail} {got}, expected 0-based {expected} ({name})"


# examples/exercise_upstream_stride2.md (1-based, stride 2): δ = [[1, -1], [2, 0]], W = [[1, 0, -1], [2, 1, 0],
# [0, -1, 1]]. The centre X₃₃ sits in all four windows: δ₁₁W₃₃ + δ₁₂W₃₁ + δ₂₁W₁₃ + δ₂₂W₁₁ = 1 + 0 − 2 + 0 = −1;
# the document wrote only δ₁₁W₃₃ = 1, so the term left out (the only non-zero one) is δ₂₁·W₁₃ = 2·(−1).
def test_stride2_example_names_entries_one_based():
    v = verify(read_document(EX / "exercise_upstream_stride2.md"))
    expected = "∂L/∂X₃₃ leaves out (2,1) (2·(-1))"
    assert expected in v.summary, f"observed {v.summary!r}, expected {expected!r}"
    g = next(s for s in v.steps if s.step == "grad_input")
    assert "∂L/∂X₃₃ = 1·1 + (-1)·0 + 2·(-1) + 0·1 = -1" in g.sums, f"observed sums {g.sums}"
    j = to_json(v)
    s = next(s for s in j["steps"] if s["step"] == "grad_input")
    bad = [e["index"] for e in s["entries"] if not e["ok"]]
    assert j["index_base"] == 1 and bad == [[2, 2]], f"observed index_base {j['index_base']}, wrong {bad}"
    assert s["diagnoses"][0]["missing_terms"] == {"[2, 2]": [[1, 0]]}, f"observed {s['diagnoses'][0]}"


UNNUMBERED = {   # documents that write no index: what is shown is 0-based, and says so
    "guide_two_epochs_extra_matrices.md": "∂L/∂W₁₁ is 0.385, should be 0.375 (indices 0-based)",
    "arithmetic.toml": "(indices 0-based)",
}


@pytest.mark.parametrize("name", sorted(UNNUMBERED), ids=lambda n: n.split(".")[0])
def test_unnumbered_documents_mark_indices_zero_based(name):
    if name.endswith(".toml"):
        v = verify(read_toml_derivation(EX / name))
    else:
            v = verify(read_document(EX / name))
    assert UNNUMBERED[name] in v.summary, f"observed {v.summary!r}, expected {UNNUMBERED[name]!r} ({name})"
    wrong = v.first_wrong
    assert all(t.endswith("(indices 0-based)") for t in wrong.sums), f"observed sums {wrong.sums} ({name})"
    assert to_json(v)["index_base"] == 0


def test_seed_document_read_zero_based_is_not_marked():
    seeds = sorted((ROOT.parent / "shared" / "seeds").glob("*.txt"))
    if not seeds:
        pytest.skip("no seed document in ../shared/seeds")
    v = verify(read_document(seeds[0]))
    expected = "the sum leaves out output positions (0,1) and (1,1) in every entry"
    assert expected in v.summary and "0-based)" not in v.summary, f"observed {v.summary!r}, expected {expected!r}"


# --- an "error" matrix is shown as what it was compared with ---------------------------------------------
# Both documents: Ŷ = [[1, 0], [0.5, 0.5]], Y = [[1, 0], [1, 1]], L = ½Σ(Ŷ−Y)², so ∂L/∂Ŷ = [[0, 0], [-0.5, -0.5]].
# implicit_lr writes error = Y − Ŷ = [[0, 0], [0.5, 0.5]] (= −∂L/∂Ŷ, checked with the error sign);
# flipped_sign says "target − output" but writes [[0, 0], [-0.5, -0.5]] (= ∂L/∂Ŷ, checked as is).
ERROR_DOCS = {
    "qa_error_signal_implicit_lr.md": ("error (read as −∂L/∂Ŷ)", "ok", "[[0, 0], [0.5, 0.5]]"),
    "qa_error_signal_flipped_sign.md": ("error (read as ∂L/∂Ŷ)", "wrong", "[[0, 0], [-0.5, -0.5]]"),
}


@pytest.mark.parametrize("name", sorted(ERROR_DOCS), ids=lambda n: n.removeprefix("qa_error_signal_").removesuffix(".md"))
def test_error_matrix_row_says_what_was_compared(name, capsys):
    label, verdict, claimed = ERROR_DOCS[name]
    code = main(["verify", str(EX / name)])
    out = capsys.readouterr().out
    row = next((line for line in out.splitlines() if line.startswith("OK ") and "line 37" in line), "")
    assert label in row, f"observed row {row!r}, expected {label!r} ({name})"
    j = to_json(verify(read_document(EX / name)))
    g = next(s for s in j["steps"] if s["step"] == "grad_output")
    assert (g["label"], g["status"], g["claimed"], j["verdict"], code) == (label, "ok", claimed, verdict,
                                                                            0 if verdict == "ok" else 1), \
        f"observed {g['label']!r} {g['status']} {g['claimed']} {j['verdict']} exit {code}, expected {label!r} ok {claimed} {verdict}"


def test_plain_derivative_row_keeps_its_label():
    j = run_json("error_sign.toml")   # TOML: no error matrix, so no relabelling even with the error sign
    g = [s["label"] for s in j["steps"] if s["step"] == "grad_output"]
    assert all(label == "∂L/∂Ŷ" for label in g), f"observed labels {g}, expected ∂L/∂Ŷ"
