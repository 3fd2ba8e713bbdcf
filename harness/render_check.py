"""The terminal view of a check: quantities × implementations at a glance, with the exact values."""

from __future__ import annotations

import sys

from .run import RunResult
from .values import short


def render(result: RunResult, paths=(), file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=False)
    p, cfg = result.problem, result.config
    table = Table(title=f"crossgrad check · {p.name} · {cfg.device} · {cfg.dtype}"
                  + (f" · precision {cfg.precision}" if cfg.device != "cpu" else ""), title_justify="left")
    table.add_column("step", justify="right")
    table.add_column("quantity")
    names = list(result.traces)
    for n in names:
        table.add_column(n, justify="center")
    by_key = {(r.impl, r.step, r.quantity): r for c in result.comparisons.values() for r in c.results}
    exact = result.reference.impl == "exact"
    values = []
    for k, ref in enumerate(result.reference.steps, start=1):
        for q, val in ref.items():
            if val is None:
                continue
            cells = []
            for n in names:
                r = by_key.get((n, k, q))
                if r is None:
                    cells.append("—")
                elif r.failed:
                    cells.append(f"[red]✗ {r.failed}/{r.checked}[/red]")
                else:
                    cells.append(f"[green]✓[/green] {r.max_abs_err:.0e}" if r.max_abs_err else "[green]✓[/green] 0")
            table.add_row(str(k), q, *cells)
            values.append(f"  {'step ' + str(k) + ' ' if p.steps > 1 else ''}{q} = {short(p.layout.to_user(q, val), exact=exact)}")
    console.print(table)
    console.print("[dim]✓ err: agrees; err is the largest |observed − reference| over the entries.[/dim]")
    console.print(f"Reference values ({'exact, hand-derived formulas on Fractions' if exact else result.reference.impl}):")
    for line in values:
        console.print(line, soft_wrap=True)
    for name, reason in result.unavailable.items():
        console.print(f"{name}: unavailable: {reason}")
    for name, where in result.divergence().items():
        console.print(f"[red]diverged[/red] {name}: {where}")
    if result.out_of_range:
        console.print(f"[yellow]note[/yellow]: {result.config.dtype} cannot hold this case: {result.out_of_range}; "
                      "mismatches from overflow are expected in that dtype", soft_wrap=True)
    mismatches = [m for c in result.comparisons.values() for m in c.mismatches]
    for m in mismatches[:20]:
        console.print(f"[red]mismatch[/red] {m.describe()}")
    if len(mismatches) > 20:
        console.print(f"… and {len(mismatches) - 20} more mismatches (see the JSON report)")
    verdict = "[green]all implementations agree[/green]" if result.agree else "[red]MISMATCH[/red]"
    console.print(f"{verdict} with the {'exact (Fraction)' if exact else result.reference.impl} reference "
                  f"on {len(result.traces)} implementation(s)")
    for path in paths:
        console.print(f"report: {path}")
