"""Run `crossgrad verify` on every corpus document and compare with `expected.json` (computed independently by
`expected.py`). A document is judged right when verify gives every claimed step the expected status, claims no
step the reader did not find, and (where the reader named one) gives the expected diagnosis of the first wrong step.

    python tests/corpus/score.py            # the table and the score
    python tests/corpus/score.py --write    # also record the outcome per document in outcomes.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def outcome(name: str, exp: dict) -> tuple[bool, str]:
    """(right, what happened) for one document."""
    from harness.cmd_verify import read_derivation
    from harness.errors import UserError
    from harness.verify import to_json, verify
    try:
        got = to_json(verify(read_derivation(str(HERE / exp["document"]))))
    except UserError as exc:
        return False, f"refused: {exc.message[:160]}"
    want = {(k + 1, q): s for k, step in enumerate(exp["steps"]) for q, s in step.items() if s != "unchecked"}
    seen = {(s["iteration"], s["step"]): s["status"] for s in got["steps"]}
    diffs = [f"{q}[{k}] expected {s}, got {seen.get((k, q), 'not checked')}" for (k, q), s in sorted(want.items())
             if seen.get((k, q)) != s]
    diffs += [f"{q}[{k}] checked as {s}, but the document claims no such value" for (k, q), s in sorted(seen.items())
              if (k, q) not in want]
    if not diffs and exp.get("diagnosis"):
        first = next((s for s in got["steps"] if s["status"] == "wrong"), None)
        if first is not None and exp["diagnosis"] not in first["diagnosis"]:
            diffs.append(f"diagnosis expected {exp['diagnosis']}, got {first['diagnosis'] or 'none'}")
    return not diffs, "right" if not diffs else "misread: " + "; ".join(diffs)[:300]


def run() -> dict[str, tuple[bool, str]]:
    expected = json.loads((HERE / "expected.json").read_text())
    return {name: outcome(name, exp) for name, exp in expected.items()}


def main(argv: list[str]) -> int:
    results = run()
    for name, (ok, what) in results.items():
        print(f"{'RIGHT' if ok else 'MISS ':5} {name}: {what}")
    right = sum(ok for ok, _ in results.values())
    print(f"score: {right} of {len(results)} documents judged right")
    if "--write" in argv:
        (HERE / "outcomes.json").write_text(json.dumps({k: {"right": ok, "outcome": w} for k, (ok, w) in
                                                        results.items()}, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    sys.exit(main(sys.argv[1:]))
