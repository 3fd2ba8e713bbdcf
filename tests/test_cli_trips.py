"""Issue 20: what a new user tripped over in the command line, one test (or a few) per item.

Pipes and terminals are real: a subprocess whose stdout is a pipe closed before it writes (`| head -1`),
and one on a pseudo-terminal of a set width (the `pty` module). Expected values come from hand arithmetic,
from tests/verify_reference.py (a loop-over-Fractions derivation sharing no code with crossgrad), from
pyproject.toml, or from the README's own words — never from crossgrad's output.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import tomllib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from harness.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SIX = "exact,manual,torch,jax,fd,array_api"
# The quantities of a case with a bias, in the README's order ("the output, loss, ∂L/∂Ŷ, ∂L/∂W, ∂L/∂x,
# ∂L/∂b and the updated filter and bias").
BIAS_QUANTITIES = ["output", "loss", "grad_output", "grad_filter", "grad_input", "grad_bias", "updated_filter",
                   "updated_bias"]


def crossgrad_argv(*args: str) -> list[str]:
    """The installed console script when there is one (what a user runs), else `python -m harness`."""
    script = Path(sys.executable).with_name("crossgrad")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "harness", *args]


def child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.setdefault("PYTHONPATH", str(ROOT))
    env.update(extra)
    return env


def run_on_pty(args: list[str], columns: int, timeout: float = 120) -> tuple[int, str]:
    """Run crossgrad on a pseudo-terminal `columns` wide; (exit code, what it showed, escapes removed).
    (openpty + subprocess rather than pty.fork: forking a process that has JAX's threads can deadlock.)"""
    import select
    import time
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(crossgrad_argv(*args), cwd=ROOT, env=child_env(TERM="xterm-256color"),
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:   # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    else:
        proc.kill()
    rc = proc.wait(timeout=30)
    os.close(master)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r\n", "\n")
    return rc, text


# --- 1. a reader that stops early: exit 141, not 1 ("mismatch") --------------------------------------

@pytest.mark.parametrize("args", [["check", "multistep", "--no-report", "--impl", "exact,manual"],
                                  ["check", "seed", "--json", "--no-report", "--impl", "exact"],
                                  ["verify", "examples/scale.toml"]],
                         ids=["check-table", "check-json", "verify"])
def test_closed_pipe_exits_141_quietly(args):
    """`crossgrad check multistep | head -1`: the reader has gone before crossgrad writes (its end of the
    pipe is closed first, so this does not depend on timing). 141 = 128 + SIGPIPE, as for `yes | head -1`."""
    proc = subprocess.Popen(crossgrad_argv(*args), cwd=ROOT, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=120)
    assert rc == 141, f"observed exit {rc}, expected 141 (128 + SIGPIPE); stderr {err!r}"
    assert err == "", f"observed stderr {err!r}, expected nothing (no traceback, no 'Exception ignored')"


def test_head_minus_one_through_a_real_shell():
    """The issue's own command line, when a shell is there to run it."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    cmd = " ".join(crossgrad_argv("check", "multistep", "--no-report", "--impl", "exact,manual"))
    # `sleep` in front of head's read would not help: close stdin at once instead (head -c 0 reads nothing)
    out = subprocess.run([bash, "-c", f"{cmd} | head -c 0; echo ${{PIPESTATUS[0]}}"], cwd=ROOT, env=child_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "141", f"observed {out.stdout!r} (stderr {out.stderr!r}), expected 141"
    assert out.stderr == ""


# --- 2. --version on stdout ------------------------------------------------------------------------

def test_version_goes_to_stdout():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = subprocess.run(crossgrad_argv("--version"), cwd=ROOT, env=child_env(), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    assert out.stdout == f"crossgrad {declared}\n", f"observed stdout {out.stdout!r}, stderr {out.stderr!r}"
    assert out.stderr == ""


# --- 3. no wrapping off a terminal; the table fitted on one ----------------------------------------

def test_piped_output_is_not_wrapped_even_with_columns_set():
    # (exact,manual,fd,array_api: no torch/jax start-up; at 40 columns the old view broke lines and cut names
    # with these as with six)
    impls = "exact,manual,fd,array_api"
    out = subprocess.run(crossgrad_argv("check", "batch", "--impl", impls, "--no-report"), cwd=ROOT,
                         env=child_env(COLUMNS="40"), capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # the verdict is one line, as written (it used to break at 80 columns: "…reference on 5⏎implementation(s)")
    assert "all implementations agree with the exact (Fraction) reference on 4 implementation(s)" in lines
    assert "…" not in out.stdout, "nothing is shortened off a terminal"
    rows = [ln for ln in lines if ln.startswith("│")]
    assert [re.split(r"\s*│\s*", r)[2] for r in rows] == BIAS_QUANTITIES, rows
    head = next(ln for ln in lines if ln.startswith("┃"))
    assert [h for h in re.split(r"\s*┃\s*", head) if h] == ["step", "quantity", *impls.split(",")]


def _table_rows(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("│")]


def test_terminal_80_columns_fits_six_implementations():
    rc, text = run_on_pty(["check", "batch", "--impl", SIX, "--no-report"], columns=80)
    assert rc == 0, text
    table = [ln for ln in text.splitlines() if ln[:1] in "┏┃┡│└"]
    assert table and max(len(ln) for ln in table) <= 80, "\n".join(table)
    rows = _table_rows(text)
    # one line per quantity (no cell wrapped onto a second line), each name whole
    assert [re.split(r"\s*│\s*", r.strip("│"))[1] for r in rows] == BIAS_QUANTITIES, "\n".join(rows)
    assert all(re.search(r"✓ (0|\de-\d\d)\b", c) for r in rows for c in r.strip("│").split("│")[2:]), rows
    assert "aapi = array_api" in text, "a shortened head is explained"
    # prose may wrap on a terminal (that is what a terminal is for): the words are all there
    assert "all implementations agree with the exact (Fraction) reference on 6 implementation(s)" in " ".join(
        text.split())


def test_terminal_too_narrow_for_one_table_splits_it():
    rc, text = run_on_pty(["check", "batch", "--impl", "exact,manual,fd", "--no-report"], columns=40)
    assert rc == 0, text
    table = [ln for ln in text.splitlines() if ln[:1] in "┏┃┡│└"]
    assert max(len(ln) for ln in table) <= 40, "\n".join(table)
    heads = [h for ln in table if ln.startswith("┃") for h in re.split(r"\s*┃\s*", ln) if h]
    assert [h for h in heads if h not in ("step", "quantity")] == ["exact", "manual", "fd"], heads
    names = [re.split(r"\s*│\s*", r.strip("│"))[1] for r in _table_rows(text)]
    tables = sum(ln.startswith("┏") for ln in table)
    assert tables >= 2 and names == BIAS_QUANTITIES * tables, names


# --- 4. a document given to check / explain ---------------------------------------------------------

@pytest.fixture
def document(tmp_path) -> Path:
    """A Markdown derivation of a problem of its own (not a built-in case): η is not stated (it is the 0.2
    of the claimed update), ∂L/∂W is wrong (one output position left out) and W' carries that mistake."""
    x = [[2, 0, 1], [1, 3, 0], [0, 1, 2]]
    w = [["1/2", "-1/2"], ["1", "0"]]
    y = [[1, 0], [2, 1]]
    ref = _reference(x, w, y, Fraction(1, 5))
    wrong = _reference(x, w, y, Fraction(1, 5), skip={(0, 1, 1)})
    bm = lambda a: r"\begin{bmatrix} " + r" \\ ".join(" & ".join(_dec(v) for v in row) for row in a) + r" \end{bmatrix}"  # noqa: E731
    text = "\n\n".join([
        "# My conv filter update", "We use the mean squared error (MSE) loss.",
        f"Input $$X = {bm(np.array(x, dtype=object))}$$", f"Filter $$W = {bm(_frac(w))}$$",
        f"Target $$Y = {bm(np.array(y, dtype=object))}$$",
        f"Output $$Z = {bm(ref['output'][0, 0])}$$",
        f"Gradient $$\\frac{{\\partial L}}{{\\partial W}} = {bm(wrong['grad_filter'][0, 0])}$$",
        f"Updated filter $$W' = {bm(wrong['updated_filter'][0, 0])}$$", ""])
    path = tmp_path / "my_derivation.md"
    path.write_text(text, encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps({k: [[str(v) for v in row] for row in ref[k][0, 0]]
                                                     for k in ("grad_filter", "updated_filter")}))
    return path


def _frac(a) -> np.ndarray:
    return np.array([[Fraction(v) for v in row] for row in a], dtype=object)


def _dec(v) -> str:
    v = Fraction(v)
    return str(v.numerator) if v.denominator == 1 else f"{float(v):g}"


def _reference(x, w, y, lr, skip=frozenset()):
    sys.path.insert(0, str(ROOT / "tests"))
    from verify_reference import step
    X = _frac(x).reshape(1, 1, 3, 3)
    W = _frac(w).reshape(1, 1, 2, 2)
    Y = _frac(y).reshape(1, 1, 2, 2)
    return step(X, W, None, target=Y, lr=lr, skip=skip)


@pytest.mark.parametrize("command", ["check"])
def test_a_document_given_to_check_points_at_verify(command, document, capsys):
    assert main([command, str(document)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "malformed TOML" not in err
    assert "a document, not a case file" in err and f"crossgrad verify {document}" in err, err


def test_explain_a_document_writes_the_correct_derivation_of_its_own_problem(document, tmp_path, capsys):
    out = tmp_path / "fixed.md"
    assert main(["explain", str(document), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "inferred" in err and "0.2" in err, f"says where η came from: {err!r}"
    md = out.read_text()
    assert "\\begin{bmatrix}" in md and "\\documentclass" not in md, "Markdown with LaTeX math, as the document"
    want = json.loads(document.with_suffix(".json").read_text())
    for key in ("grad_filter", "updated_filter"):
        rows = r" \\ ".join(" & ".join(_dec(Fraction(v)) for v in row) for row in want[key])
        assert f"\\begin{{bmatrix}} {rows} \\end{{bmatrix}}" in md, f"the correct {key} {want[key]} is written"
    # and what it wrote is a derivation that `verify` finds right in every step
    assert main(["verify", str(out)]) == 0, capsys.readouterr().out
    assert main(["verify", str(document)]) == 1, "the person's own document is wrong (a control)"


def test_explain_a_latex_document_answers_in_latex(document, tmp_path, capsys):
    tex = tmp_path / "mine.tex"
    body = document.read_text().replace("# My conv filter update", "\\section{My conv filter update}")
    tex.write_text("\\documentclass{article}\n\\begin{document}\n" + body + "\n\\end{document}\n")
    assert main(["explain", str(tex), "--lr", "0.2"]) == 0
    written = capsys.readouterr().out
    assert written.lstrip().startswith("\\documentclass"), written[:200]


def test_explain_of_a_case_is_unchanged_by_the_document_path(capsys):
    assert main(["explain", "seed", "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert "0.37" in text and "0.605" in text   # W' of the seed, by hand: 0.5 − 0.1·1.3, 0.7 − 0.1·0.95


# --- 5. a mistyped option: the option it was meant to be, and the command's help ---------------------

@pytest.mark.parametrize("argv, meant, command", [(["check", "--dtpye", "float32"], "--dtype", "check"),
                                                  (["verify", "x.md", "--show-parsd"], "--show-parsed", "verify"),
                                                  (["--dtpye", "float32"], "--dtype", "check")])
def test_mistyped_option_is_named_with_the_commands_help(argv, meant, command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"did you mean {meant}?" in err and f"'crossgrad {command} --help'" in err, err


# --- 6. the names people write for the loss ---------------------------------------------------------

SEED_TOML = """[problem]
input = [[1, 2, 1], [0, 1, 2], [2, 1, 0]]
filter = [[0.5, 0.2], [0.3, 0.7]]
target = [[1, 2], [2, 1]]
learning_rate = 0.1
loss = "{loss}"
"""
# Ŷ − Y on the seed, by hand: [[0.6, 0.9], [-0.5, 0.2]], squares 0.36 + 0.81 + 0.25 + 0.04 = 1.46
SQUARES = Fraction(146, 100)


@pytest.mark.parametrize("written, value", [("mse", SQUARES / 4), ("MSE", SQUARES / 4),
                                            ("mean_squared_error", SQUARES / 4), ("Mean Squared Error", SQUARES / 4),
                                            ("sse", SQUARES), ("sum_of_squares", SQUARES),
                                            ("sum-of-squares", SQUARES)])
def test_common_loss_names_are_read(written, value, tmp_path, capsys):
    case = tmp_path / "case.toml"
    case.write_text(SEED_TOML.format(loss=written))
    assert main(["check", str(case), "--impl", "exact", "--json", "--no-report"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert Fraction(rep["reference"]["steps"][0]["loss"]) == value


def test_loss_alias_on_the_command_line(capsys):
    assert main(["check", "seed", "--impl", "exact", "--json", "--no-report", "--loss", "SSE"]) == 0
    assert Fraction(json.loads(capsys.readouterr().out)["reference"]["steps"][0]["loss"]) == SQUARES


def test_unknown_loss_lists_the_values(tmp_path, capsys):
    case = tmp_path / "case.toml"
    case.write_text(SEED_TOML.format(loss="l2"))
    assert main(["check", str(case), "--impl", "exact", "--no-report"]) == 2
    err = capsys.readouterr().err
    for value in ("mean", "sum", "half_sum", "half_mean", "linear", "mse", "sse"):   # the README's table
        assert re.search(rf"\b{value}\b", err), f"{value!r} missing from {err!r}"


# --- 7. each command's help: a description, 2–4 examples, exit codes ----------------------------------

def _help(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_has_examples_and_exit_codes(command, capsys):
    text = _help([command] if command else [], capsys)
    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    ran = [e.split()[1] for e in examples]
    assert 2 <= len(examples) <= 4, examples
    assert command is None or set(ran) == {command}, examples
    codes = text.split("exit codes:\n", 1)[1]
    assert re.search(r"^\s+0\s", codes, re.M) and re.search(r"^\s+2\b", codes, re.M), codes
    parser = build_parser()
    for line in examples:   # every example is a command line crossgrad accepts (up to a pipe or a comment)
        words = line.strip().split("  ")[0].split(" | ")[0].split()[1:]
        args, unknown = parser.parse_known_args(words)
        assert not unknown, f"{line!r}: unknown {unknown}"
        for w in words:
            if w.startswith("examples/"):
                assert (ROOT / w).exists(), w


def test_verify_help_says_what_it_reads(capsys):
    text = _help(["verify"], capsys)
    for word in ("ok", "wrong", "carried", "stride", "padding", "learning rate", "loss", "--lr", "--show-parsed",
                 ".toml", ".md", ".tex", "bmatrix"):
        assert word in text, f"{word!r} missing from verify --help"
    codes = text.split("exit codes:\n", 1)[1]
    assert re.search(r"^\s+1\s.*wrong or carried", codes, re.M), codes


# --- 8. bench prints the summary and where the report is ---------------------------------------------

def test_bench_prints_the_summary_not_the_report(tmp_path, capsys, monkeypatch):
    from harness.bench import machine
    monkeypatch.setattr(machine, "matmul_gflops", lambda *a, **k: 1.0)
    assert main(["bench", "--shape", "1,1,1,3,2", "--impl", "manual,exact", "--repeat", "1",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    md = tmp_path / "bench-cpu-float32.md"
    assert md.exists() and "| shape (N,C_in,C_out,H,k) | impl |" in md.read_text()
    assert "| shape (N,C_in,C_out,H,k) | impl |" not in out, "the Markdown report is not printed"
    assert f"report: {md}" in out, out
    assert len(out.splitlines()) < 20, out
    assert re.search(r"│ \(1,1,1,3,2\)\s+│\s+[\d.]+\s+│\s+[\d.]+\s+│", out), out


# --- 9, 10. the suite's default run, CI's slow run, the README's figures ------------------------------

def test_slow_tests_are_deselected_by_default_and_run_in_ci():
    opts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("slow:") for m in opts["markers"])
    assert re.search(r"-m\s+['\"]?not slow", opts["addopts"]), opts["addopts"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^pytest_or_fail -m slow$", ci, re.M), "CI runs the slow tests too"
    assert ci.count("pytest_or_fail") >= 3, "CI fails on pytest's exit 5 (no tests) for both runs"


def test_readme_states_the_measured_figures_with_their_conditions():
    readme = (ROOT / "README.md").read_text()
    sweep = readme.split("## `crossgrad sweep`", 1)[1].split("\n## ", 1)[0]
    assert "about 10 s here" not in sweep
    assert re.search(r"configurations/s", sweep) and re.search(r"load", sweep), sweep
    dev = readme.split("## Development", 1)[1]
    assert re.search(r"-m slow", dev) and re.search(r"load", dev), dev
