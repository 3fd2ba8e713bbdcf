"""The long fuzz run of issue 9: the strategies of tests/test_fuzz_readers.py on many inputs.

    python scripts/fuzz_long.py [--count 10000] [--out results]

Splits COUNT over the three readers (check's TOML cases, verify's TOML derivations, the Markdown/LaTeX
importer when it exists), records per reader how many documents read, how many were refused with a
UserError, the slowest, and the first failure (an exception other than UserError, or a run past the
per-document limit), then writes results/fuzz-long.json and .md atomically. Exit 1 on a failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import test_fuzz_readers as fz  # noqa: E402
from harness.atomic import write_atomic  # noqa: E402


def fuzz(name: str, count: int, seed_value: int) -> dict:
    read, suffix, docs = fz.READERS[name]
    stats = {"reader": name, "inputs": 0, "read": 0, "refused": 0, "failures": 0, "slowest_s": 0.0,
             "failure": None, "examples": []}

    @settings(max_examples=count, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @seed(seed_value)
    @given(text=docs, ext=st.sampled_from([suffix] if suffix == ".toml" else [".md", ".tex", ".txt"]))
    def one(text, ext):
        t0 = time.perf_counter()
        stats["inputs"] += 1
        try:
            result = fz.outcome(read, text, ext)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - recorded; the run goes on to count every failure
            stats["failures"] += 1
            if len(stats["examples"]) < 5:
                stats["examples"].append({"error": f"{type(exc).__name__}: {str(exc)[:300]}", "suffix": ext,
                                          "document": text[:4000]})
            return
        finally:
            stats["slowest_s"] = max(stats["slowest_s"], round(time.perf_counter() - t0, 3))
        stats["read" if result == "ok" else "refused"] += 1

    try:
        one()
    except BaseException as exc:  # noqa: BLE001 - recorded, then reported as the run's result
        if isinstance(exc, KeyboardInterrupt):
            raise
        notes = " ".join(getattr(exc, "__notes__", []))   # hypothesis's "Falsifying example: ..."
        stats["failure"] = f"{type(exc).__name__}: {str(exc)[:500]} {notes[:3000]}".strip()
    return stats


def _first(r: dict) -> str:
    if r["failure"]:
        return r["failure"][:200].replace("|", "\\|").replace("\n", " ")
    if r["examples"]:
        e = r["examples"][0]
        return (f"{e['error']} on a {e['suffix']} document (in the JSON)").replace("|", "\\|").replace("\n", " ")
    return "none"


def fz_index(name: str) -> int:
    """Each reader's seed offset (the same with --only, so a failure replays)."""
    return list(fz.READERS).index(name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000, help="inputs in all (default 10000)")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--out", default=str(ROOT / "results"))
    ap.add_argument("--only", choices=list(fz.READERS), help="fuzz one reader (all of COUNT)")
    args = ap.parse_args()
    names = [n for n in fz.READERS if n != "verify-markdown" or fz.HAS_IMPORTER]
    names = [args.only] if args.only else names
    t0 = time.perf_counter()
    runs = []
    for i, name in enumerate(names):
        share = args.count // len(names) + (1 if i < args.count % len(names) else 0)
        runs.append(fuzz(name, share, args.seed + fz_index(name)))
        print(json.dumps(runs[-1]), flush=True)
    total = sum(r["inputs"] for r in runs)
    failed = [r for r in runs if r["failure"] or r["failures"]]
    data = {"inputs": total, "asked": args.count, "seconds": round(time.perf_counter() - t0, 1),
            "per_document_limit_s": fz.SECONDS, "result": "fail" if failed else "pass",
            "importer": fz.HAS_IMPORTER, "readers": runs,
            "command": f"python scripts/fuzz_long.py --count {args.count} --seed {args.seed}"}
    out = Path(args.out)
    write_atomic(out / "fuzz-long.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    rows = "\n".join(f"| {r['reader']} | {r['inputs']} | {r['read']} | {r['refused']} | {r['failures']} | "
                     f"{r['slowest_s']} | {_first(r)} |" for r in runs)
    write_atomic(out / "fuzz-long.md", f"# Long fuzz run of the readers (issue 9)\n\n"
                 f"`{data['command']}`: {total} inputs in {data['seconds']} s, result **{data['result']}** "
                 f"(pass: every input either read or refused with one line, exit 2, none past {fz.SECONDS} s; the "
                 "failures, if any, are listed with their documents in the JSON).\n\n"
                 "| reader | inputs | read | refused (UserError) | failures | slowest (s) | first failure |\n"
                 "|---|---|---|---|---|---|---|\n"
                 f"{rows}\n")
    print(f"{total} inputs, {data['result']}; wrote {out / 'fuzz-long.json'} and .md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
