"""Fuzz the readers of user files: random and mutated documents give a valid result or a `UserError`
(one line; the CLI's exit 2), never another exception, and each within a few seconds.

Readers: check's TOML case reader (`cases.load_case_file`, then the exact and manual runs), verify's TOML
derivation reader (`read_toml_derivation`, then `verify`), and the Markdown/LaTeX importer
(`harness.importer.read_document`, then `verify`). Documents are mutations of the shipped `examples/*` and
the seed document (deleted/duplicated lines, swapped characters, truncated matrices, nasty numbers, random
unicode) and plain random text. `scripts/fuzz_long.py` runs the same strategies on ≥ 10 000 inputs.
"""

from __future__ import annotations

import importlib.util
import re
import signal
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, SEED_DOC
from harness.errors import UserError

SECONDS = 10.0   # per document; normal ones take well under a second (the 2 cores here are shared)
HAS_IMPORTER = importlib.util.find_spec("harness.importer") is not None

TOML_SOURCES = sorted((ROOT / "examples").glob("*.toml"))
MD_SOURCES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".md", ".tex", ".txt"))
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in TOML_SOURCES + MD_SOURCES}
if SEED_DOC.exists():
    TEXTS["seed.txt"] = SEED_DOC.read_text(encoding="utf-8")
TOML_NAMES = [p.name for p in TOML_SOURCES]
MD_NAMES = [p.name for p in MD_SOURCES] + (["seed.txt"] if "seed.txt" in TEXTS else [])

# Values a person (or a copy-paste) might put where a number belongs.
NASTY = ["nan", "-nan", "inf", "-inf", "\\infty", "1e999999999", "1e-999999999", "5e-324", "1e308", "2e308",
         "0", "-0", "0.0", "true", "false", '"x"', '"1/3"', '"1/0"', "[]", "[[]]", "{}", "1/0", "−1", "9" * 5000,
         "0." + "3" * 300, "1_000", "0x10", "1e400", "\\frac{1}{0}", "\\frac{1}{3}", "10^{999}", "½", "", "]]", "[[",
         "$$", "\\begin{bmatrix}", "\\end{bmatrix}", "&", "\\\\", "=", "100000000", "-1", "1.5", "3.", ".5"]
NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
CLOSERS = re.compile(r"\]|\\end\{[a-z]*matrix\}")


@st.composite
def mutated(draw, names: list[str]) -> str:
    """One shipped document with 1–3 random edits."""
    text = TEXTS[draw(st.sampled_from(names))]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete_line", "duplicate_line", "swap", "truncate", "truncate_matrix",
                                   "number", "number", "number", "unicode", "delete_span"]))
        if not text:
            break
        lines = text.split("\n")
        i = draw(st.integers(0, len(text) - 1))
        if op == "delete_line":
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "\n".join(lines)
        elif op == "duplicate_line":
            k = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[k])
            text = "\n".join(lines)
        elif op == "swap" and len(text) > 1:
            j = draw(st.integers(0, len(text) - 1))
            chars = list(text)
            chars[i], chars[j] = chars[j], chars[i]
            text = "".join(chars)
        elif op == "truncate":
            text = text[:i]
        elif op == "truncate_matrix":  # cut a matrix short: drop what lies between a point and its closer
            closers = [m.start() for m in CLOSERS.finditer(text)]
            if closers:
                end = draw(st.sampled_from(closers))
                start = draw(st.integers(max(0, end - 80), end))
                text = text[:start] + text[end:]
        elif op == "number":
            spans = [m.span() for m in NUMBER.finditer(text)]
            if spans:
                a, b = draw(st.sampled_from(spans))
                text = text[:a] + draw(st.sampled_from(NASTY)) + text[b:]
        elif op == "unicode":
            text = text[:i] + draw(st.text(max_size=12)) + text[i:]
        else:  # delete_span
            text = text[:i] + text[i + draw(st.integers(1, 40)):]
    return text


def random_toml() -> st.SearchStrategy[str]:
    """Random text, and random TOML-ish problems built from the keys the readers know."""
    keys = st.sampled_from(["input", "filter", "target", "learning_rate", "bias", "stride", "padding", "dilation",
                            "groups", "steps", "loss", "operation", "activation", "grad_output", "x", "w", "lr",
                            "output", "grad_filter", "updated_filter", "title", "rounded_inputs", "foo"])
    value = st.recursive(st.sampled_from(NASTY) | st.integers(-3, 5).map(str) | st.just('"mean"'),
                         lambda inner: st.lists(inner, max_size=4).map(lambda v: "[" + ", ".join(v) + "]"),
                         max_leaves=20)
    body = st.lists(st.tuples(keys, value).map(lambda kv: f"{kv[0]} = {kv[1]}"), max_size=8).map("\n".join)
    doc = st.tuples(st.sampled_from(["", "[problem]\n"]), body, st.sampled_from(["", "\n[claimed]\n"]), body)
    return st.text(max_size=300) | doc.map("".join)


def random_markdown() -> st.SearchStrategy[str]:
    pieces = st.sampled_from(["$$", "$", "W = ", "I = ", "Y = ", "x = ", "\\hat{Y} = ", "L = ", "\\eta = ",
                              "\\frac{\\partial L}{\\partial W} = ", "\\begin{bmatrix}", "\\end{bmatrix}", " & ",
                              " \\\\ ", "\n", "\n\n", "Step 2:", "Iteration 3", "learning rate", "MSE", "ReLU",
                              "```\n", "[[1, 2], [3, 4]]", "=", "(", ")", "{", "}"]) | st.sampled_from(NASTY)
    return st.text(max_size=300) | st.lists(pieces, max_size=60).map("".join)


class _TimeOut(BaseException):
    pass


def _alarm(signum, frame):
    raise _TimeOut


def outcome(read, text: str, suffix: str) -> str:
    """'ok' or 'error' (a one-line UserError); anything else, or a run past SECONDS, fails."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"doc{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, SECONDS)
        t0 = time.perf_counter()
        try:
            read(path)
            return "ok"
        except UserError as exc:
            message = str(exc)
            assert message.strip() and "\n" not in message, f"observed a UserError of {message!r}, expected one line"
            return "error"
        except _TimeOut:
            pytest.fail(f"observed a run past {SECONDS} s, expected a result or a UserError "
                        f"({suffix} document of {len(text)} characters: {text[:200]!r})")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            assert time.perf_counter() - t0 < SECONDS + 1


def read_case(path: Path) -> None:
    """check: the case file, then the exact reference and the hand-written NumPy derivation."""
    from harness.cases import load_case_file
    from harness.run import run_all
    from impls.base import Config
    run_all(load_case_file(path), ("exact", "manual"), Config(dtype="float64"))


def read_derivation(path: Path) -> None:
    from harness.verify import read_toml_derivation, verify
    verify(read_toml_derivation(path))


def read_markdown(path: Path) -> None:
    from harness.importer import read_document
    from harness.verify import verify
    verify(read_document(path))


# Strategies per reader, shared with scripts/fuzz_long.py.
# Mostly mutations (three branches of four): they get past the syntax and into the numbers and shapes.
TOML_DOCS = st.one_of(mutated(TOML_NAMES), mutated(TOML_NAMES), mutated(TOML_NAMES), random_toml())
MD_DOCS = st.one_of(mutated(MD_NAMES), mutated(MD_NAMES), mutated(MD_NAMES), random_markdown())
READERS = {"check-toml": (read_case, ".toml", TOML_DOCS), "verify-toml": (read_derivation, ".toml", TOML_DOCS),
           "verify-markdown": (read_markdown, ".md", MD_DOCS)}

CI = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@CI
@given(text=TOML_DOCS)
def test_check_case_reader(text):
    outcome(read_case, text, ".toml")


@CI
@given(text=TOML_DOCS)
def test_verify_toml_reader(text):
    outcome(read_derivation, text, ".toml")


@pytest.mark.skipif(not HAS_IMPORTER, reason="harness.importer (the Markdown/LaTeX reader) does not exist yet")
@pytest.mark.slow   # a long property run: `pytest -m slow` (CI runs it)
@CI
@given(text=MD_DOCS, suffix=st.sampled_from([".md", ".tex", ".txt"]))
def test_markdown_reader(text, suffix):
    outcome(read_markdown, text, suffix)


@pytest.mark.parametrize("name", TOML_NAMES + MD_NAMES)
def test_shipped_documents_read(name):
    """The unmutated sources are valid: the fuzz starts from documents that get past the readers."""
    read = read_derivation if name.endswith(".toml") else read_markdown
    if read is read_markdown and not HAS_IMPORTER:
        pytest.skip("harness.importer does not exist yet")
    assert outcome(read, TEXTS[name], Path(name).suffix) == "ok", f"observed an error, expected {name} to read"


def test_outcome_catches_other_exceptions():
    """The harness itself can fail: a reader raising anything but UserError is not swallowed."""
    def broken(path):
        raise KeyError("planted")
    with pytest.raises(KeyError):
        outcome(broken, "x", ".toml")
