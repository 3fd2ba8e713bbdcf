"""The terminal view of a check: quantities × implementations at a glance, with the exact values."""

from __future__ import annotations

from .run import RunResult
from .values import short

# Column heads when the table is wider than the terminal (a legend line says what they stand for). Only
# heads wider than a cell ("✓ 6e-17") are shortened; the quantity names never are: they are what a reader
# looks up in the report and in the reference values below the table.
SHORT_HEADS = {"array_api": "aapi"}
CELL_WIDTH = 7


def short_head(impl: str) -> str:
    return impl if len(impl) <= CELL_WIDTH else SHORT_HEADS.get(impl, impl[:4])


def _table(result: RunResult, names, short_heads: bool, compact: bool, title: str | None = None):
    """The quantities × `names` table; `compact` keeps one space between columns instead of two."""
    from rich.table import Table

    p, cfg = result.problem, result.config
    if title is None:
        title = (f"crossgrad check · {p.name} · {cfg.device} · {cfg.dtype}"
                 + (f" · precision {cfg.precision}" if cfg.device != "cpu" else ""))
    table = Table(title=title, title_justify="left", collapse_padding=compact, pad_edge=not compact)
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("quantity", no_wrap=True)
    for n in names:
        table.add_column(short_head(n) if short_heads else n, justify="center", no_wrap=True)
    by_key = {(r.impl, r.step, r.quantity): r for c in result.comparisons.values() for r in c.results}
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
    return table


def natural_width(console, table) -> int:
    """The width `table` takes when nothing is wrapped or shortened (rich's own measure is clipped to the
    console's width, so it always "fits")."""
    from rich.measure import Measurement
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def fitted_tables(result: RunResult, console) -> tuple[list, bool]:
    """The table as it fits the console: full heads; else short heads; else short heads and one space
    between columns; else that, with the implementations split over several tables (each with the step
    and quantity columns), so that no cell is wrapped and no quantity name cut. Off a terminal the console
    is wide enough for the first. Returns the tables and whether short heads were used."""
    names = list(result.traces)
    for short_heads, compact in ((False, False), (True, False), (True, True)):
        table = _table(result, names, short_heads, compact)
        if natural_width(console, table) <= console.width:
            return [table], short_heads
    groups: list[list[str]] = []
    for n in names:       # greedily: as many implementations per table as fit
        if groups and natural_width(console, _table(result, groups[-1] + [n], True, True)) <= console.width:
            groups[-1].append(n)
        else:
            groups.append([n])
    first = _table(result, groups[0], True, True)
    return [first] + [_table(result, g, True, True, title="") for g in groups[1:]], True


def render(result: RunResult, paths=(), file=None) -> None:
    from .terminal import console as make_console

    console = make_console(file)
    p = result.problem
    exact = result.reference.impl == "exact"
    values = [f"  {'step ' + str(k) + ' ' if p.steps > 1 else ''}{q} = {short(p.layout.to_user(q, val), exact=exact)}"
              for k, ref in enumerate(result.reference.steps, start=1) for q, val in ref.items() if val is not None]
    tables, short_heads = fitted_tables(result, console)
    for table in tables:
        console.print(table)
    if short_heads and any(short_head(n) != n for n in result.traces):
        console.print("[dim]columns: " + ", ".join(f"{short_head(n)} = {n}" for n in result.traces
                                                  if short_head(n) != n) + "[/dim]")
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
