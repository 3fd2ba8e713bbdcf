"""The corpus of real public documents (tests/corpus/): expected statuses computed independently (torch float64
autograd, `expected.py`), and `crossgrad verify` judged against them (`score.py`).

The score is far from the goal (README, "Real documents"); these tests keep what holds: the expected values are
the ones the transcriptions give, and no document judged right regresses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"
sys.path.insert(0, str(CORPUS))
import expected as expected_mod  # noqa: E402
import score as score_mod  # noqa: E402

EXPECTED = json.loads((CORPUS / "expected.json").read_text())
OUTCOMES = json.loads((CORPUS / "outcomes.json").read_text())
CASES = sorted(p.stem for p in (CORPUS / "cases").glob("*.toml"))


def test_corpus_is_real_and_big_enough():
    """At least 40 documents, each with a source and a document file."""
    assert len(CASES) >= 40, f"observed {len(CASES)} documents, expected at least 40"
    sources = (CORPUS / "SOURCES.md").read_text()
    for name in CASES:
        case = expected_mod.load(CORPUS / "cases" / f"{name}.toml")
        assert case["source"] and (CORPUS / case["document"]).is_file(), name
        assert name in sources, f"{name} is not listed in SOURCES.md"


@pytest.mark.parametrize("name", CASES)
def test_expected_is_current(name):
    """expected.json is what expected.py computes from the transcription now."""
    case = expected_mod.load(CORPUS / "cases" / f"{name}.toml")
    assert EXPECTED[name]["steps"] == expected_mod.statuses(case), f"{name}: rerun tests/corpus/expected.py --write"


def test_expected_script_can_fail():
    """The expected-status script itself: the seed's wrong ∂L/∂W (true [[1.3, 1], [0.05, 0.95]], by hand) is
    wrong and its update carried; the right values are ok."""
    case = {"document": "x", "problem": {"input": [[1, 2, 1], [0, 1, 2], [2, 1, 0]],
                                         "filter": [[0.5, 0.2], [0.3, 0.7]], "target": [[1, 2], [2, 1]],
                                         "learning_rate": 0.1, "loss": "mean"}}
    from decimal import Decimal as D
    to_d = lambda a: [[D(str(v)) for v in row] for row in a]  # noqa: E731
    case["step"] = [{"grad_filter": to_d([[0.3, 0.35], [-0.5, 0.05]]),
                     "updated_filter": to_d([[0.47, 0.165], [0.35, 0.695]]), "loss": D("0.365")}]
    assert expected_mod.statuses(case) == [{"loss": "ok", "grad_filter": "wrong", "updated_filter": "carried"}]
    case["step"] = [{"grad_filter": to_d([[1.3, 1.0], [0.05, 0.95]]),
                     "updated_filter": to_d([[0.37, 0.1], [0.295, 0.605]])}]
    assert expected_mod.statuses(case) == [{"grad_filter": "ok", "updated_filter": "ok"}]


@pytest.mark.parametrize("name", [n for n in CASES if OUTCOMES.get(n, {}).get("right")])
def test_no_regression(name):
    right, what = score_mod.outcome(name, EXPECTED[name])
    assert right, f"{name}: judged right before, now {what}"
