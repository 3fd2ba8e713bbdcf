"""Every bad input gets one line on stderr (file, key or line, what is wrong, what was expected) and exit 2;
nothing hangs, nothing is allocated for absurd sizes. The table in docs/robustness.md is this file's cases:
`python tests/test_bad_inputs.py` prints it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]  # run as a script too
from conftest import ROOT  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.errors import UserError  # noqa: E402

SEED = {"input": "[[1, 2, 1], [0, 1, 2], [2, 1, 0]]", "filter": "[[0.5, 0.2], [0.3, 0.7]]",
        "target": "[[1, 2], [2, 1]]", "learning_rate": "0.1"}
CLAIMED = "\n[claimed]\noutput = [[1.6, 2.9], [1.5, 1.2]]\n"


def case_toml(**changes: str | None) -> str:
    """The seed problem as a [problem] table, keys replaced (None removes one), extra keys appended."""
    table = {**SEED, **changes}
    return "[problem]\n" + "".join(f"{k} = {v}\n" for k, v in table.items() if v is not None)


# id -> (changes to the seed's [problem] table, the key at fault, what the message says). Each runs through
# check, verify and explain; the expected texts are the issue's list, not copied from crossgrad's output.
PROBLEM_CASES = {
    "nan": ({"input": "[[nan, 2, 1], [0, 1, 2], [2, 1, 0]]"}, "problem.input[0][0]", "expected a finite number, got NaN"),
    "inf": ({"filter": "[[inf, 0.2], [0.3, 0.7]]"}, "problem.filter[0][0]", "expected a finite number, got Infinity"),
    "minus_inf": ({"target": "[[-inf, 2], [2, 1]]"}, "problem.target[0][0]", "expected a finite number, got -Infinity"),
    "nan_learning_rate": ({"learning_rate": "nan"}, "problem.learning_rate", "expected a finite number"),
    "nan_string": ({"input": '[["nan", 2, 1], [0, 1, 2], [2, 1, 0]]'}, "problem.input[0][0]", "expected a finite number"),
    "beyond_float64": ({"filter": "[[2e308, 0.2], [0.3, 0.7]]"}, "problem.filter[0][0]", "beyond the float64 range"),
    "huge_exponent_string": ({"filter": '[["1e999999999999", 0.2], [0.3, 0.7]]'}, "problem.filter[0][0]",
                             "beyond the float64 range"),
    "tiny_exponent": ({"filter": "[[1e-999999, 0.2], [0.3, 0.7]]"}, "problem.filter[0][0]", "too small to be read exactly"),
    "too_many_digits": ({"filter": "[[0." + "3" * 150 + ", 0.2], [0.3, 0.7]]"}, "problem.filter[0][0]",
                        "150 significant digits; expected at most 100"),
    "boolean": ({"input": "[[true, 2, 1], [0, 1, 2], [2, 1, 0]]"}, "problem.input[0][0]",
                "expected a number, got the boolean true"),
    "string": ({"input": '[["one", 2, 1], [0, 1, 2], [2, 1, 0]]'}, "problem.input[0][0]",
               "expected a number, got the string 'one'"),
    "division_by_zero": ({"input": '[["1/0", 2, 1], [0, 1, 2], [2, 1, 0]]'}, "problem.input[0][0]",
                         "expected a number, got the string '1/0'"),
    "table_for_number": ({"learning_rate": "{ value = 0.1 }"}, "problem.learning_rate", "expected a number, got dict"),
    "empty_array": ({"input": "[]"}, "problem.input", "empty array"),
    "empty_rows": ({"filter": "[[], []]"}, "problem.filter", "empty array"),
    "ragged": ({"input": "[[1, 2, 1], [0, 1], [2, 1, 0]]"}, "problem.input", "ragged array"),
    "five_dimensions": ({"input": "[[[[[1]]]]]"}, "problem.input", "at most 4 dimensions"),
    "scalar_input": ({"input": "3"}, "problem.input", "input must be 2-D (H, W), 3-D (C, H, W) or 4-D"),
    "filter_larger_than_input": ({"filter": "[[1, 2, 3, 4], [1, 2, 3, 4]]"}, "problem.filter", "the output would be empty"),
    "target_shape": ({"target": "[[1, 2, 3], [2, 1, 3]]"}, "problem.target",
                     "target has shape [2, 3], but the output has shape [2, 2]"),
    "channels_mismatch": ({"filter": "[[[0.5, 0.2], [0.3, 0.7]], [[1, 1], [1, 1]]]"}, "problem.filter",
                          "input channels per group"),
    "bias_shape": ({"bias": "[1, 2]"}, "problem.bias", "bias must have C_out=1 entries"),
    "zero_stride": ({"stride": "0"}, "problem.stride", "stride must be >= 1, got [0, 0]"),
    "negative_stride": ({"stride": "[1, -2]"}, "problem.stride", "stride must be >= 1, got [1, -2]"),
    "fractional_stride": ({"stride": "1.5"}, "problem.stride", "stride must be an integer or a pair of integers"),
    "huge_stride": ({"stride": "99999999999999999999"}, "problem.stride", "stride must be at most 1000000"),
    "negative_padding": ({"padding": "-1"}, "problem.padding", "padding must be >= 0"),
    "unknown_padding": ({"padding": '"full"'}, "problem.padding", "padding must be 'valid', 'same'"),
    "zero_dilation": ({"dilation": "0"}, "problem.dilation", "dilation must be >= 1"),
    "groups_not_dividing": ({"groups": "2"}, "problem.groups", "groups=2 must divide C_in=1 and C_out=1"),
    "zero_groups": ({"groups": "0"}, "problem.groups", "groups must be a positive integer"),
    "zero_steps": ({"steps": "0"}, "problem.steps", "steps must be an integer from 1 to 100, got 0"),
    "too_many_steps": ({"steps": "1000"}, "problem.steps", "steps must be an integer from 1 to 100, got 1000"),
    "steps_without_learning_rate": ({"steps": "2", "learning_rate": None}, "problem.learning_rate",
                                    "steps > 1 needs a learning_rate"),
    "unknown_loss": ({"loss": '"l1"'}, "problem.loss", "loss must be one of mean, sum, half_sum, half_mean, linear"),
    "loss_not_a_string": ({"loss": "2"}, "problem.loss", "loss must be a string"),
    "unknown_key": ({"momentum": "0.9"}, "problem.momentum", "unknown key 'momentum'"),
    "missing_filter": ({"filter": None}, "problem", "missing key 'filter'"),
    "missing_target": ({"target": None}, "problem.target", "missing target"),
    # sizes that come from dimensions, not from a literal list: refused before anything is allocated
    "huge_padding": ({"padding": "300000", "stride": "1000000"}, "problem.padding",
                     "the padded input would have 360003600009 elements, over the limit of 1000000"),
    "huge_same_padding": ({"padding": '"same"', "dilation": "1000000", "target": "[[1, 2, 1], [0, 1, 2], [2, 1, 0]]"},
                          "problem.padding", "over the limit of 1000000"),
}


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _argv(command: str, path: Path) -> list[str]:
    return {"check": ["check", str(path), "--impl", "exact,manual", "--no-report"],
            "verify": ["verify", str(path)], "explain": ["explain", str(path)]}[command]


def _one_line_error(err: str, command: str, where: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"observed {len(lines)} lines on stderr, expected 1: {err!r}"
    assert lines[0].startswith(f"crossgrad {command}: error: {where}"), \
        f"observed {lines[0]!r}, expected it to start with 'crossgrad {command}: error: {where}'"
    assert fragment in lines[0], f"observed {lines[0]!r}, expected it to say {fragment!r}"


@pytest.mark.parametrize("command", ["check", "verify", "explain"])
@pytest.mark.parametrize("name", list(PROBLEM_CASES))
def test_bad_problem(name, command, tmp_path, capsys):
    changes, key, fragment = PROBLEM_CASES[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(case_toml(**changes) + (CLAIMED if command == "verify" else ""), encoding="utf-8")
    t0 = time.perf_counter()
    rc, out, err = _run(_argv(command, path), capsys)
    assert rc == 2, f"observed exit {rc}, expected 2 ({name}, {command}; stderr {err!r})"
    _one_line_error(err, command, f"{path}: {key}", fragment)
    assert time.perf_counter() - t0 < 5, f"observed {time.perf_counter() - t0:.1f} s, expected < 5 s ({name})"


# Whole-file problems: id -> (bytes of the file, or a callable making the file; suffix; what the message says).
def _fifty_megabytes(path: Path) -> None:
    with open(path, "wb") as fh:          # sparse: 50 MB of NULs, without writing them
        fh.truncate(50_000_000)


FILE_CASES = {
    "malformed_toml": (b"[problem\ninput = 1\n", ".toml", "malformed TOML: Expected ']' at the end of a table declaration"),
    "deeply_nested_arrays": (b"[problem]\ninput = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", ".toml",
                             "malformed TOML: nested too deeply"),
    "deeply_nested_tables": (b"[problem]\ninput = " + b"{a=" * 100_000 + b"1" + b"}" * 100_000 + b"\n", ".toml",
                             "malformed TOML: nested too deeply"),
    "integer_of_5000_digits": (b"[problem]\ninput = " + b"9" * 5000 + b"\n", ".toml", "malformed TOML: Exceeds the limit"),
    "fifty_megabytes": (_fifty_megabytes, ".toml", "file is 50000000 bytes, over the limit of 5000000"),
    "not_utf8": ("[problem]\ninput = 'caf\xe9'\n".encode("latin-1"), ".toml", "not UTF-8 text"),
    "no_problem_table": (b"title = 'x'\n", ".toml", "missing the [problem] table"),
    "problem_not_a_table": (b"problem = 3\n", ".toml", "problem: expected a table"),
}
MARKDOWN_CASES = {
    "md_fifty_megabytes": (_fifty_megabytes, ".md", "over the limit"),
    "md_binary": (bytes(range(256)), ".md", "not UTF-8 text"),
    "md_nul_bytes": (b"W = 1\x00", ".md", "not a text file"),
    "md_empty": (b"", ".md", "missing the input"),
    "md_deep_matrices": (b"$$" + b"\\begin{bmatrix}" * 20_000 + b"1" + b"\\end{bmatrix}" * 20_000 + b"$$", ".md",
                         "too much to read"),
}


def _make(path: Path, content) -> None:
    content(path) if callable(content) else path.write_bytes(content)


@pytest.mark.parametrize("command", ["check", "verify", "explain"])
@pytest.mark.parametrize("name", list(FILE_CASES))
def test_bad_file(name, command, tmp_path, capsys):
    content, suffix, fragment = FILE_CASES[name]
    path = tmp_path / f"{name}{suffix}"
    _make(path, content)
    t0 = time.perf_counter()
    rc, out, err = _run(_argv(command, path), capsys)
    assert rc == 2, f"observed exit {rc}, expected 2 ({name}, {command}; stderr {err!r})"
    _one_line_error(err, command, str(path), fragment)
    assert time.perf_counter() - t0 < 5, f"observed {time.perf_counter() - t0:.1f} s, expected < 5 s ({name})"


@pytest.mark.parametrize("name", list(MARKDOWN_CASES))
def test_bad_markdown(name, tmp_path, capsys):
    pytest.importorskip("harness.importer", reason="the Markdown/LaTeX importer does not exist yet")
    content, suffix, fragment = MARKDOWN_CASES[name]
    path = tmp_path / f"{name}{suffix}"
    _make(path, content)
    rc, out, err = _run(["verify", str(path)], capsys)
    assert rc == 2, f"observed exit {rc}, expected 2 ({name}; stderr {err!r})"
    _one_line_error(err, "verify", str(path), fragment)


def test_markdown_number_beyond_float64(tmp_path, capsys):
    pytest.importorskip("harness.importer", reason="the Markdown/LaTeX importer does not exist yet")
    path = tmp_path / "printout.md"
    path.write_text("W:\n\n    tensor([[0.3367, 2e308],\n            [0.1, 0.2303]])\n")
    rc, out, err = _run(["verify", str(path)], capsys)
    assert rc == 2, f"observed exit {rc} ({err!r}), expected 2"
    _one_line_error(err, "verify", str(path), "")


def test_missing_file(tmp_path, capsys):
    for command in ("check", "verify", "explain"):
        path = tmp_path / "nowhere.toml"
        rc, out, err = _run(_argv(command, path), capsys)
        assert rc == 2, f"observed exit {rc}, expected 2 ({command})"
        _one_line_error(err, command, str(path), "cannot read: No such file or directory")


# --- command-line limits ----------------------------------------------------------------------------

OPTION_CASES = {
    "check_steps_over_limit": (["check", "seed", "--steps", "101", "--no-report"], "check", "--steps",
                               "--steps must be from 1 to 100, got 101"),
    "check_zero_steps": (["check", "seed", "--steps", "0", "--no-report"], "check", "--steps", "from 1 to 100"),
    "check_repeat": (["check", "seed", "--repeat", "0", "--no-report"], "check", "--repeat", "from 1 to 100"),
    "check_unknown_impl": (["check", "seed", "--impl", "tensorflow", "--no-report"], "check", "--impl",
                           "unknown implementation 'tensorflow'"),
    "check_unknown_case": (["check", "nosuchcase", "--no-report"], "check", "unknown case 'nosuchcase'", ""),
    "explain_steps_over_limit": (["explain", "seed", "--steps", "101"], "explain", "command line.steps",
                                 "steps must be an integer from 1 to 100, got 101"),
}


@pytest.mark.parametrize("name", list(OPTION_CASES))
def test_bad_option(name, capsys):
    argv, command, where, fragment = OPTION_CASES[name]
    rc, out, err = _run(argv, capsys)
    assert rc == 2, f"observed exit {rc}, expected 2 ({name}; stderr {err!r})"
    _one_line_error(err, command, where, fragment)


# --- overflow, huge exact work ------------------------------------------------------------------------

def test_overflow_of_the_exact_values_names_the_step(tmp_path, capsys):
    """η = 1e300: step 1 is finite (L = 0.365), step 2's loss is ~1e599, past float64: refused, step named."""
    path = tmp_path / "eta.toml"
    path.write_text(case_toml(learning_rate="1e300", steps="3"))
    rc, out, err = _run(_argv("check", path), capsys)
    assert rc == 2, f"observed exit {rc}, expected 2"
    _one_line_error(err, "check", f"{path}: problem", "leave the float64 range (|x| > 1.8e308) at step 2: loss")


def test_float_overflow_is_reported_as_divergence(tmp_path, capsys):
    """float16 holds at most 65504; Ŷ00 = 300·50 + 200·20 + 0·30 + 100·70 = 26000 fits, but L does not."""
    path = tmp_path / "f16.toml"
    path.write_text(case_toml(input="[[300, 200, 100], [0, 100, 200], [200, 100, 0]]", filter="[[50, 20], [30, 70]]"))
    rc, out, err = _run(["check", str(path), "--impl", "exact,manual", "--dtype", "float16", "--no-report"], capsys)
    assert rc == 1, f"observed exit {rc}, expected 1 (a disagreement)"
    assert "diverged manual: step 1: loss is not finite" in out, f"observed {out[-800:]!r}, expected the divergence"


def test_denormals_are_computed_exactly(tmp_path, capsys):
    """5e-324 is float64's smallest subnormal: read exactly, and the run agrees (exit 0)."""
    path = tmp_path / "denormal.toml"
    path.write_text(case_toml(filter="[[5e-324, 0.2], [0.3, 0.7]]"))
    rc, out, err = _run(_argv("check", path), capsys)
    assert (rc, err) == (0, ""), f"observed exit {rc} ({err!r}), expected 0"


def test_absurd_size_is_refused_before_any_allocation():
    """padding 300000 with stride 1e6 gives a 1×1 output but a 3.6e11-element padded input: refused, cheaply."""
    from harness.numbers import to_exact_array
    from harness.problem import make_problem
    x = to_exact_array([[1, 2, 1], [0, 1, 2], [2, 1, 0]], "x")
    w = to_exact_array([[1, 2], [3, 4]], "w")
    tracemalloc.start()
    with pytest.raises(UserError, match="padded input would have 360003600009 elements"):
        make_problem(x=x, w=w, target=to_exact_array([[1]], "y"), padding=300_000, stride=1_000_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000, f"observed a peak of {peak} bytes, expected < 1 MB (nothing allocated)"


def test_billion_element_work_is_refused():
    """A 1000×1000 input with a 31×31 filter: 970²·961 = 904204900 multiply-adds, over the 5e7 limit."""
    from harness.problem import make_problem
    x = np.empty((1000, 1000), dtype=object)
    x[...] = 1
    w = np.empty((31, 31), dtype=object)
    w[...] = 1
    with pytest.raises(UserError, match="904204900 multiply-adds over 1 step"):
        make_problem(x=x, w=w, target=np.ones((970, 970), dtype=object))


def _big_case(path: Path) -> None:
    rng = np.random.default_rng(0)
    x, w = rng.integers(-9, 10, (1, 4, 40, 40)), rng.integers(-9, 10, (8, 4, 5, 5))
    y = rng.integers(-9, 10, (1, 8, 36, 36))
    path.write_text(f"[problem]\ninput = {json.dumps(x.tolist())}\nfilter = {json.dumps(w.tolist())}\n"
                    f"target = {json.dumps(y.tolist())}\nlearning_rate = 0.001\n")


def test_exact_on_a_big_case_is_refused_not_hung(tmp_path, capsys):
    """8·36·36·4·5·5 = 1036800 multiply-adds × 1 step × 16 > 6e6: `--impl exact` is refused at once."""
    path = tmp_path / "big.toml"
    _big_case(path)
    t0 = time.perf_counter()
    rc, out, err = _run(["check", str(path), "--impl", "exact", "--no-report"], capsys)
    assert rc == 2, f"observed exit {rc}, expected 2"
    _one_line_error(err, "check", "--impl", "exact is unavailable: too large for exact Fractions (1036800 multiply-adds")
    assert time.perf_counter() - t0 < 5


def test_big_case_checks_against_float64_without_exact(tmp_path, capsys):
    """Not named, exact is skipped with its reason and the float64 derivation is the reference."""
    path = tmp_path / "big.toml"
    _big_case(path)
    rc, out, err = _run(["check", str(path), "--no-report"], capsys)
    assert rc == 0, f"observed exit {rc} ({out[-600:]!r}), expected 0"
    assert "exact: unavailable: too large for exact Fractions" in out


def _derivation(path: Path, side: int, claims: int) -> None:
    x = [[(i * side + j) % 7 for j in range(side)] for i in range(side)]
    path.write_text(case_toml(input=json.dumps(x), filter="[[1, 0, 1], [0, 1, 0], [1, 0, 1]]",
                              target=json.dumps([[0] * (side - 2)] * (side - 2)))
                    + "\n[[claimed.steps]]\nloss = 1\n" * claims)


def _exploding_case(path: Path, steps: int) -> None:
    """Denominators 3…23 and η = 1/3: the exact values gain ~170 bits per SGD step (~5000 digits at 100)."""
    primes = [3, 7, 11, 13, 17, 19, 23]
    frac = lambda i, j: f'"{(i * 7 + j) % 19 - 9}/{primes[(i + 2 * j) % 7]}"'  # noqa: E731
    grid = lambda n: "[" + ", ".join("[" + ", ".join(frac(i, j) for j in range(n)) + "]" for i in range(n)) + "]"  # noqa: E731
    path.write_text(f"[problem]\ninput = {grid(7)}\nfilter = {grid(3)}\ntarget = {grid(5)}\n"
                    f'learning_rate = "1/3"\nsteps = {steps}\n')


def test_exploding_denominators_are_refused_not_hung(tmp_path, capsys):
    path = tmp_path / "primes.toml"
    _exploding_case(path, 100)
    t0 = time.perf_counter()
    rc, out, err = _run(["check", str(path), "--impl", "exact", "--no-report"], capsys)
    assert rc == 2, f"observed exit {rc} ({err!r}), expected 2"
    _one_line_error(err, "check", "--impl", "the exact values would grow to ~")
    assert "over 100 steps" in err
    rc, out, err = _run(["check", str(path), "--impl", "manual", "--json", "--no-report"], capsys)
    assert rc == 0 and json.loads(out)["agree"], f"observed exit {rc} ({err!r}), expected 0 against float64"
    assert time.perf_counter() - t0 < 10, f"observed {time.perf_counter() - t0:.1f} s, expected seconds"


def test_exploding_denominators_over_few_steps_stay_exact(tmp_path, capsys):
    path = tmp_path / "primes.toml"
    _exploding_case(path, 10)
    rc, out, err = _run(["check", str(path), "--impl", "exact,manual", "--no-report"], capsys)
    assert rc == 0, f"observed exit {rc} ({err!r}), expected 0 with the exact reference"
    assert "exact (Fraction) reference" in out


def test_verify_refuses_a_derivation_too_large_to_check(tmp_path, capsys):
    """A 40×40 input and a 3×3 filter over 2 claimed steps: 2·38²·9 = 25992 multiply-adds > 20000."""
    path = tmp_path / "big_derivation.toml"
    _derivation(path, 40, 2)
    rc, out, err = _run(["verify", str(path)], capsys)
    assert rc == 2, f"observed exit {rc}, expected 2"
    _one_line_error(err, "verify", str(path), "too large to check by hand: 25992 multiply-adds (12996 per step × 2")


def test_verify_checks_but_does_not_diagnose_a_mid_size_derivation(tmp_path, capsys):
    """12×12 and 3×3, 1 step: 10²·9 = 900 ≤ 1000 is diagnosed; 14×14: 12²·9 = 1296 is checked, not diagnosed."""
    from harness.verify import read_toml_derivation, verify
    for side, diagnosed in ((12, True), (14, False)):
        path = tmp_path / f"d{side}.toml"
        _derivation(path, side, 1)
        t0 = time.perf_counter()
        step = verify(read_toml_derivation(path)).steps[0]
        assert step.status == "wrong", f"observed {step.status}, expected wrong (L = 1 is not the loss)"
        assert ("not diagnosed" not in step.message) == diagnosed, f"observed {step.message!r} (side {side})"
        assert time.perf_counter() - t0 < 10


@pytest.mark.slow
def test_longest_exact_run_takes_seconds(capsys):
    """The seed at the step limit (100 steps) with the exact reference: seconds, not minutes."""
    t0 = time.perf_counter()
    rc, out, err = _run(["check", "seed", "--steps", "100", "--impl", "exact,manual", "--no-report"], capsys)
    elapsed = time.perf_counter() - t0
    assert rc == 0, f"observed exit {rc} ({err!r}), expected 0"
    assert elapsed < 20, f"observed {elapsed:.1f} s, expected < 20 s"


# --- a few through a real subprocess: no traceback anywhere -------------------------------------------

@pytest.mark.parametrize("name", ["nan", "huge_exponent_string", "huge_padding"])
def test_subprocess_has_no_traceback(name, tmp_path):
    changes, key, fragment = PROBLEM_CASES[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(case_toml(**changes))
    proc = subprocess.run([sys.executable, "-m", "harness", "check", str(path), "--no-report"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, f"observed exit {proc.returncode}, expected 2 ({proc.stderr!r})"
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert fragment in proc.stderr


def test_subprocess_deep_nesting_and_big_file(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_bytes(FILE_CASES["deeply_nested_arrays"][0])
    big = tmp_path / "big.md"
    _fifty_megabytes(big)
    for argv in (["verify", str(deep)], ["check", str(deep)], ["verify", str(big)]):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "harness", *argv], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, f"{argv}: {proc.returncode} {proc.stderr!r}"
        assert time.perf_counter() - t0 < 10


def test_ctrl_c_during_sweep_prints_the_partial_summary(tmp_path):
    pytest.importorskip("harness.sweep", reason="crossgrad sweep does not exist yet")
    proc = subprocess.Popen([sys.executable, "-m", "harness", "sweep", "--count", "1000000", "--impl", "exact,manual",
                             "--out", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    deadline = time.monotonic() + 60   # wait until it is sweeping (imports take seconds on a busy machine)
    while proc.poll() is None and time.monotonic() < deadline:
        probe = subprocess.run(["ps", "-o", "stat=,time=", "-p", str(proc.pid)], capture_output=True, text=True)
        if probe.stdout.split()[-1:] and probe.stdout.split()[-1] >= "00:00:05":  # 5 s of CPU: past start-up
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"observed exit {proc.returncode}, expected 130 ({err[-500:]!r})"
    assert "interrupted, partial summary" in out, f"observed {out[:500]!r}, expected the partial summary"
    report = json.loads((tmp_path / "sweep-cpu-float64.json").read_text())   # whole, parseable
    assert report, "observed an empty report, expected the partial one"


# --- the table of docs/robustness.md ---------------------------------------------------------------------

def table() -> str:
    """Run every case of this file once and give the Markdown table (input, command, exit, stderr line)."""
    import contextlib
    import io
    import tempfile
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        def run(label, argv):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                rc = main(argv)
            line = err.getvalue().strip().replace(str(tmp) + "/", "").replace("|", "\\|")
            rows.append(f"| {label} | `{argv[0]}` | {rc} | `{line}` |")

        for name, (changes, _, _) in PROBLEM_CASES.items():
            path = tmp / f"{name}.toml"
            path.write_text(case_toml(**changes) + CLAIMED)
            run(name, ["verify", str(path)])
        for name, (content, suffix, _) in {**FILE_CASES, **MARKDOWN_CASES}.items():
            path = tmp / f"{name}{suffix}"
            _make(path, content)
            run(name, ["verify" if suffix == ".md" else "check", str(path), *(["--no-report"] if suffix != ".md" else [])])
        for name, (argv, *_rest) in OPTION_CASES.items():
            run(name, argv)
        eta = tmp / "eta.toml"
        eta.write_text(case_toml(learning_rate="1e300", steps="3"))
        run("overflow_of_exact_values (η = 1e300, 3 steps)", ["check", str(eta), "--no-report"])
        big = tmp / "big.toml"
        _big_case(big)
        run("exact_on_big_case", ["check", str(big), "--impl", "exact", "--no-report"])
        primes = tmp / "primes.toml"
        _exploding_case(primes, 100)
        run("exact_with_exploding_denominators (η = 1/3, 100 steps)", ["check", str(primes), "--impl", "exact", "--no-report"])
    return ("| input | command | exit | stderr (one line) |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    print(table())
