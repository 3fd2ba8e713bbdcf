"""Check reports: one JSON object (the `--json` schema) and a Markdown page, written atomically."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from .atomic import write_atomic
from .problem import QUANTITIES
from .run import RunResult
from .values import fraction_text, to_json


def environment(result: RunResult) -> dict:
    """Library versions and device names: what a reader needs to reproduce the run."""
    from . import devices
    env = devices.versions()
    if result.config.device.startswith("cuda"):
        env["gpu"] = devices.gpu_info()
    return env


def _step_json(problem, step, exact: bool) -> dict:
    return {q: to_json(problem.layout.to_user(q, getattr(step, q)), exact=exact) for q in QUANTITIES}


def problem_json(problem) -> dict:
    lay = problem.layout
    ex = lambda q, a: None if a is None else to_json(lay.to_user(q, a), exact=True)  # noqa: E731
    return {"input": ex("input", problem.x), "filter": ex("filter", problem.w), "bias": ex("bias", problem.b),
            "target": ex("output", problem.target), "grad_output": ex("output", problem.grad_output),
            "learning_rate": None if problem.lr is None else fraction_text(problem.lr),
            "stride": list(problem.stride), "padding": [list(p) for p in problem.padding],
            "dilation": list(problem.dilation), "groups": problem.groups, "steps": problem.steps,
            "loss": problem.loss, "operation": problem.operation, "activation": problem.activation}


def to_dict(result: RunResult, extra: dict | None = None) -> dict:
    p, cfg = result.problem, result.config
    impls = {}
    for name, trace in result.traces.items():
        impls[name] = {"steps": [_step_json(p, s, exact=False) for s in trace.steps],
                       "seconds": round(trace.seconds, 6), "device": trace.device, "note": trace.note,
                       "agree": result.comparisons[name].agree,
                       "max_abs_err": {f"{r.quantity}@{r.step}": r.max_abs_err
                                       for r in result.comparisons[name].results}}
    return {
        "case": p.name, "device": cfg.device, "dtype": cfg.dtype, "precision": cfg.precision,
        "deterministic": cfg.deterministic, "agree": result.agree,
        "impls": impls,
        "unavailable": dict(result.unavailable),
        "diverged": result.divergence(),
        "out_of_range": result.out_of_range,
        "reference": {"impl": result.reference.impl, "note": result.reference.note,
                      "steps": [_step_json(p, s, exact=True) for s in result.reference.steps]},
        "mismatches": [{"impl": m.impl, "step": m.step, "quantity": m.quantity, "index": list(m.index),
                        "observed": m.observed, "expected": m.expected, "allowed": m.allowed}
                       for c in result.comparisons.values() for m in c.mismatches],
        "problem": problem_json(p),
        "versions": environment(result),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def to_markdown(report: dict) -> str:
    lines = [f"# crossgrad check: `{report['case']}`", "",
             f"- device: **{report['device']}**, dtype: **{report['dtype']}**, precision: {report['precision']}, "
             f"deterministic: {report['deterministic']}",
             f"- verdict: **{'all implementations agree' if report['agree'] else 'MISMATCH'}** "
             f"(reference: {report['reference']['impl']})",
             f"- created: {report['created']}", ""]
    names = list(report["impls"])
    lines += ["| step | quantity | " + " | ".join(names) + " | reference value |",
              "|---|---|" + "---|" * len(names) + "---|"]
    for k, ref in enumerate(report["reference"]["steps"], start=1):
        for q, val in ref.items():
            if val is None:
                continue
            cells = []
            for n in names:
                err = report["impls"][n]["max_abs_err"].get(f"{q}@{k}")
                bad = any(m["impl"] == n and m["quantity"] == q and m["step"] == k for m in report["mismatches"])
                cells.append(("✗" if bad else "✓") + (f" {err:.1e}" if err is not None else ""))
            lines.append(f"| {k} | {q} | " + " | ".join(cells) + f" | {_inline(val)} |")
    lines.append("")
    lines.append("Cells: ✓/✗ and the largest absolute difference from the reference.")
    if report.get("out_of_range"):
        lines += ["", f"**Note:** {report['dtype']} cannot hold this case: {report['out_of_range']}; "
                      "mismatches from overflow are expected in that dtype."]
    if report.get("diverged"):
        lines += ["", "## Diverged", ""] + [f"- {n}: {w}" for n, w in report["diverged"].items()]
    if report["unavailable"]:
        lines += ["", "## Unavailable", ""] + [f"- {n}: unavailable: {r}" for n, r in report["unavailable"].items()]
    if report["mismatches"]:
        lines += ["", "## Mismatches", ""]
        lines += [f"- {m['impl']} step {m['step']} {m['quantity']}{m['index']}: observed {m['observed']!r}, "
                  f"expected {m['expected']!r} (allowed ±{m['allowed']:.3g})" for m in report["mismatches"][:200]]
    lines += ["", "## Timings", ""] + [f"- {n}: {v['seconds'] * 1e3:.2f} ms ({v['device']}{'; ' + v['note'] if v['note'] else ''})"
                                       for n, v in report["impls"].items()]
    lines += ["", "## Versions", "", "```json", json.dumps(report["versions"], indent=2), "```", ""]
    return "\n".join(lines)


def _inline(v) -> str:
    """Exact 'p/q' strings as decimals (≈ when they do not terminate), elided past 80 characters."""
    from fractions import Fraction

    from .values import decimal_text

    def rec(x):
        return "[" + ", ".join(rec(y) for y in x) + "]" if isinstance(x, list) else (
            decimal_text(Fraction(x)) if isinstance(x, str) else str(x))
    text = rec(v)
    return text if len(text) <= 80 else text[:77] + "…"


def write(report: dict, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """`<stem>.json` and `<stem>.md` under out_dir, each atomically."""
    j = write_atomic(Path(out_dir) / f"{stem}.json", json.dumps(report, indent=2) + "\n")
    m = write_atomic(Path(out_dir) / f"{stem}.md", to_markdown(report))
    return j, m


__all__ = ["to_dict", "to_markdown", "write"]
