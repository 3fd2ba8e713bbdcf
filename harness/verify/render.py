"""A verdict as JSON, as plain text (pipes, files) or as a rich table (a terminal); and `--show-parsed`."""

from __future__ import annotations

import numpy as np

from ..derivation import Derivation
from . import fmt
from .verdict import Verdict

STATUS_STYLE = {"ok": "green", "wrong": "bold red", "carried": "yellow"}


def to_json(v: Verdict) -> dict:
    """Every `index` (and `missing`, `missing_terms`) is 0-based: a position in the nested `claimed`/`true`
    arrays, whatever the document's numbering, so a tool can index with it. `index_base` is that numbering
    (1: the document calls the 0-based [0, 0] W₁₁), which the human-readable texts (`summary`, `message`,
    `sums`, `notes`) use; add it to an index to name an entry as the document does."""
    return {
        "verdict": v.verdict,
        "index_base": v.index_base,
        "title": v.title,
        "source": v.source,
        "summary": v.summary,
        "steps": [{
            "step": s.step, "label": s.label, "iteration": s.iteration, "status": s.status,
            "diagnosis": [d.code for d in s.diagnosis],
            "diagnoses": [{"code": d.code, "message": d.message, **{k: val for k, val in d.details}}
                          for d in s.diagnosis],
            "entries": [{"index": list(e.index), "claimed": e.claimed, "true": e.true, "ok": e.ok, "match": e.match}
                        for e in s.entries],
            "message": s.message, "where": s.where, "claimed": s.claimed, "true": s.true,
            "sums": list(s.sums), "notes": list(s.notes)} for s in v.steps],
        "conventions": {c.name: {"value": c.value, "source": c.source.kind, "detail": c.source.detail,
                                 "described": c.source.describe()} for c in v.conventions},
        "notes": list(v.notes),
        "suggestions": list(v.suggestions),
        "unchecked": list(v.unchecked),
        "skipped": list(v.skipped),
    }


def _step_name(s, many: bool) -> str:
    from .judge import LABEL
    return (s.label or LABEL[s.step]) + (f" [{s.iteration}]" if many else "")


def plain(v: Verdict) -> str:
    many = len({s.iteration for s in v.steps}) > 1
    lines = [f"verify {v.source}: {v.title}", "", v.summary, ""]
    for s in v.steps:
        lines.append(f"{s.status.upper():8} {_step_name(s, many)}  ({s.where})")
        lines.append(f"         claimed {s.claimed}")
        if s.status != "ok" or s.claimed != s.true:
            lines.append(f"         true    {s.true}")
        lines.append(f"         {s.message}")
        lines.extend(f"         {t}" for t in s.sums)
    lines.append("")
    lines.extend(_tail(v))
    lines.append(f"verdict: {v.verdict}")
    return "\n".join(lines)


def _tail(v: Verdict) -> list[str]:
    out = [f"NOT CHECKED {u}" for u in v.unchecked]
    out.extend(f"skipped: {k}" for k in v.skipped)
    out += ["conventions: " + "; ".join(f"{c.name} = {c.value} ({c.source.describe()})" for c in v.conventions)]
    out.extend(f"note: {n}" for n in v.notes if n not in {c.source.detail for c in v.conventions})
    out.extend(f"hint: {s}" for s in v.suggestions)
    return out


def rich_print(v: Verdict) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    many = len({s.iteration for s in v.steps}) > 1
    console.print(f"[bold]verify[/] {v.source}: {v.title}")
    console.print(Text(v.summary, style="bold red" if v.verdict != "ok" else "bold green"))
    table = Table(show_lines=True)
    for col in ("step", "status", "claimed", "true", "finding"):
        table.add_column(col, overflow="fold")
    for s in v.steps:
        table.add_row(_step_name(s, many), Text(s.status, style=STATUS_STYLE[s.status]), s.claimed,
                      s.true, s.message)
    console.print(table)
    for s in v.steps:
        if s.sums:
            console.print(Text(f"the right {_step_name(s, many)}, term by term:", style="bold"))
            for t in s.sums:
                console.print(Text("  " + t))
    for line in _tail(v):
        console.print(Text(line))
    console.print(Text(f"verdict: {v.verdict}", style="bold " + ("green" if v.verdict == "ok" else "red")))


def show_parsed(d: Derivation) -> str:
    """What was read, for any Derivation (TOML or imported document)."""
    p = d.problem
    lines = [f"parsed {d.source}: {d.title}", "problem:"]
    for name, a in (("input", p.x), ("filter", p.w), ("bias", p.b), ("target", p.target), ("grad_output", p.grad_output)):
        if a is not None:
            q = "output" if name in ("target", "grad_output") else name
            lines.append(f"  {name} {list(p.layout.user_shape(q, tuple(a.shape)))}: "
                         f"{fmt.array(p.layout.to_user(q, a))}")
    lines.append(f"  learning_rate: {'not given' if p.lr is None else fmt.num(p.lr)}")
    geometry = {"stride": p.stride, "padding": p.padding, "dilation": p.dilation, "groups": p.groups}
    lines.append("  " + ", ".join(f"{k} {v}" for k, v in geometry.items()))
    lines.append("conventions:")
    for key in ("loss", "operation", "activation", "learning_rate", "indexing"):
        if key in d.conventions or key in ("loss", "operation", "activation"):
            value = {"loss": p.loss, "operation": p.operation, "activation": p.activation,
                     "learning_rate": "-" if p.lr is None else fmt.num(p.lr)}.get(key, "")
            src = d.conventions.get(key)
            if key == "indexing":
                value = src.detail.split(":")[0]
            lines.append(f"  {key} = {value} "
                         f"({src.describe() if src else 'default'})")
    if d.assignment:
        lines.append("assignment (which value took each input role, and why):")
        lines.extend(f"  {a.role} <- {'the command line' if a.line == 0 else f'line {a.line}'}: {a.text}   "
                     f"[{a.evidence}]" for a in d.assignment)
    if d.runner_up is not None:
        r = d.runner_up
        chosen = f"{d.score[0]} of {d.score[1]}" if d.score else "more"
        tie = d.score is not None and (r.ok, r.checked) == tuple(d.score)
        lines.append(f"runner-up ({r.ok} of {r.checked} claimed steps check under it, {chosen} under the chosen"
                     + ("; they fit equally well: judged under the value written first" if tie else "") + "):")
        lines.extend(f"  {a.role} <- line {a.line}: {a.text}" for a in r.changes)
    elif d.assignment:
        lines.append("runner-up: none (no value competed for a role)")
    for name, dec in d.input_decimals.items():
        lines.append(f"  {name} shown rounded (decimals {fmt.array(np.asarray(dec))})")
    for k, claims in enumerate(d.iterations):
        lines.append(f"claims, iteration {k + 1}:")
        for q, c in claims.items():
            text = f"  {q} {list(np.shape(c.value))} from {c.where}: {fmt.array(c.value)}"
            lines.append(text + (f"   <- {c.text!r}" if c.text else ""))
    if d.skipped:
        lines.append("skipped:")
        lines.extend(f"  {s}" for s in d.skipped)
    if d.notes:
        lines.append("notes:")
        lines.extend(f"  {n}" for n in d.notes)
    return "\n".join(lines)
