"""`crossgrad bench`: argument handling, interleaving, and the reports it writes (on a tiny shape).
No timing is asserted: timed tests are flaky on a shared machine."""

from __future__ import annotations

import json

import pytest

from harness.bench import report as bench_report
from harness.bench import timing
from harness.bench.shapes import Shape, make_case, parse_shape
from harness.cli import main
from harness.errors import UserError


@pytest.mark.parametrize("text,expected", [("32,16,32,32,3", Shape(32, 16, 32, 32, 3)),
                                           ("(1, 1, 1, 3, 2)", Shape(1, 1, 1, 3, 2))], ids=["plain", "tuple"])
def test_parse_shape(text, expected):
    assert parse_shape(text) == expected


@pytest.mark.parametrize("text,match", [("1,2,3", "five positive integers"), ("1,1,1,3,x", "five positive"),
                                        ("1,0,1,3,2", ">= 1"), ("1,1,1,2,3", "larger than the input"),
                                        ("100000,100,100,100,3", "multiply-adds")], ids=str)
def test_bad_shapes_are_user_errors(text, match):
    with pytest.raises(UserError, match=match):
        parse_shape(text)


def test_shape_arithmetic_by_hand():
    s = Shape(32, 16, 32, 32, 3)          # H_out = 30: 32·32·900·16·9 multiply-adds
    assert s.macs == 32 * 32 * 900 * 16 * 9
    assert s.step_flops == 6 * s.macs
    assert s.gemm_dims() == {"forward": (32, 144, 28800), "grad_filter": (144, 28800, 32),
                             "grad_cols": (144, 32, 28800)}


def test_tiny_case_is_exact_tenths():
    case = make_case(Shape(1, 1, 1, 3, 2), "float64")
    assert case.problem.x.dtype == object                      # small enough for the exact path
    assert all(float(v) * 10 == round(float(v) * 10) for v in case.problem.x.flat)
    assert case.x.tolist() == [[[[float(v) for v in row] for row in case.problem.x[0, 0]]]]


def test_interleaved_alternates_and_counts():
    calls = []
    times = timing.interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=3, warmup=1)
    assert calls == ["a", "b"] * 4, f"observed call order {calls}, expected a b a b …"
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    s = timing.summary([0.003, 0.001, 0.002])
    assert (s["median_ms"], s["min_ms"], s["max_ms"]) == pytest.approx((2.0, 1.0, 3.0))


@pytest.mark.parametrize("argv,match", [
    (["--repeat", "0"], "--repeat"), (["--impl", "numpy"], "unknown implementation"),
    (["--shape", "1,2"], "five positive integers"), (["--device", "tpu"], "")], ids=["repeat", "impl", "shape", "device"])
def test_bad_arguments_exit_2_with_one_line(argv, match, capsys, tmp_path):
    assert main(["bench", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err, f"observed stderr {err!r}"
    assert not list(tmp_path.iterdir()), "nothing is written for bad arguments"


def test_tiny_bench_writes_json_markdown_and_png(tmp_path, capsys):
    rc = main(["bench", "--shape", "1,1,1,3,2", "--impl", "manual,exact", "--repeat", "2", "--out", str(tmp_path)])
    assert rc == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["bench-cpu-float32.json", "bench-cpu-float32.md", "bench-cpu-float32.png"], files
    rep = json.loads((tmp_path / "bench-cpu-float32.json").read_text())
    (row,) = rep["results"]
    assert row["shape"] == "(1,1,1,3,2)" and row["macs"] == 16
    assert set(row["impls"]) == {"manual", "exact"}
    m = row["impls"]["manual"]
    assert m["runs"] == 2 and m["min_ms"] <= m["median_ms"] <= m["max_ms"]
    assert set(m["ratio_to_floor"]) == {"gemm_floor_numpy", "gemm_floor_manual"}
    parts = m["parts_ms"]
    assert parts["products"] == row["floors"]["gemm_floor_manual"]["median_ms"]
    assert parts["passes"] == row["floors"]["passes_manual"]["median_ms"]
    assert m["ratio_to_parts"] == m["median_ms"] / (parts["products"] + parts["passes"])
    assert "tracemalloc" in m["memory"]["method"]
    assert rep["machine"]["cpu"] and rep["machine"]["versions"]["numpy"]
    assert rep["matmul_2048_gflops"] > 0
    md = (tmp_path / "bench-cpu-float32.md").read_text()
    assert "| (1,1,1,3,2) | manual |" in md and "gemm_floor_numpy" in md and "| (1,1,1,3,2) | *passes_manual* |" in md
    assert (tmp_path / "bench-cpu-float32.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out   # the summary and where the report is, not the Markdown (issue 20)
    assert f"report: {tmp_path / 'bench-cpu-float32.md'}" in out and "│ (1,1,1,3,2)" in out, out


def test_json_flag_prints_one_object(capsys, monkeypatch):
    from harness.bench import machine
    monkeypatch.setattr(machine, "matmul_gflops", lambda *a, **k: 1.0)   # the 2048² matmul is covered above
    assert main(["bench", "--shape", "1,1,1,3,2", "--impl", "manual", "--repeat", "1", "--json", "--no-report"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["results"][0]["impls"]["manual"]["runs"] == 1


def test_markdown_shows_targets_and_startup():
    rep = {"device": "cpu", "dtype": "float32", "repeat": 3, "created": "now", "matmul_2048_gflops": 200.0,
           "machine": {"cpu": "Test CPU", "cores": 2, "blas": [], "versions": {"numpy": "2"},
                       "load_average_before": [0.1], "load_average_after": [0.2]},
           "results": [], "targets": [{"shape": "(32,16,32,32,3)", "floor": "gemm_floor_numpy", "ratio": 1.1,
                                       "ratio_of_minima": 1.05, "target": 1.15, "met": True}],
           "startup": {"commands": [{"command": "verify", "argv": ["python", "-m", "harness", "verify", "seed.toml"],
                                     "median_s": 0.2, "min_s": 0.19, "max_s": 0.3, "exit_code": 1, "baseline": "import numpy",
                                     "ratio": 1.5, "target": 2.0, "met": True}],
                       "heavy_imports": {"verify": []}}}
    md = bench_report.to_markdown(rep)
    assert "| (32,16,32,32,3) | gemm_floor_numpy | 1.10 | ≤ 1.15 | yes | 1.05 |" in md
    assert "≤ 2.0 (met)" in md and "verify: none" in md


def test_passes_manual_is_the_step_without_its_products():
    """The passes floor runs manual's real code with every product replaced: the products are called
    exactly as often as in a step, and nothing else changes."""
    from harness.bench import runners, shapes
    from impls import manual
    case = shapes.make_case(shapes.parse_shape("4,2,3,9,3"), "float32")
    calls = []
    real = manual.Pass.product

    def counting(a, b, out):
        calls.append(out.shape)
        return real(a, b, out=out)

    manual.Pass.product = staticmethod(counting)
    try:
        manual.steps(case.problem, case.x, case.w, None, case.target)
    finally:
        manual.Pass.product = staticmethod(real)
    geo = manual.Geometry(case.problem, case.x.shape, case.w.shape, 4)
    assert len(calls) == 3 * len(geo.blocks), f"observed {len(calls)} products, expected 3 per block ({len(geo.blocks)} blocks)"
    runners.manual_passes(case)()            # runs, and leaves manual's products in place
    assert manual.Pass.product is real or manual.Pass.product == real
