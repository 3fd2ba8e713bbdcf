"""What `crossgrad bench` prints: the summary table and where the full report is (the report itself is the
Markdown/JSON/PNG written to --out; `--json` prints all of it)."""

from __future__ import annotations

from .report import _ms


def summary_rows(rep: dict) -> tuple[list[str], list[list[str]]]:
    """(implementations, rows): one row per shape, each cell "median ms (× torch)" of one implementation."""
    impls = list(dict.fromkeys(n for r in rep["results"] for n in r["impls"]))
    rows = []
    for r in rep["results"]:
        cells = [r["shape"]]
        for n in impls:
            s = r["impls"].get(n)
            if s is None:
                cells.append("—" if n not in r.get("skipped", {}) else "skipped")
                continue
            ratio = s.get("ratio_to_torch")
            cells.append(_ms(s["median_ms"]) + (f" ({ratio:.2f}×)" if ratio is not None and n != "torch" else ""))
        manual = r["impls"].get("manual", {}).get("ratio_to_floor", {})
        cells.append(", ".join(f"{v:.2f}" for v in manual.values()) or "—")
        rows.append(cells)
    return impls, rows


def render(rep: dict, paths=(), file=None) -> None:
    from rich.table import Table

    from ..terminal import console as make_console
    console = make_console(file)
    impls, rows = summary_rows(rep)
    m = rep["machine"]
    table = Table(title=f"crossgrad bench · {rep['device']} · {rep['dtype']} · median ms per step "
                        f"(× torch), {rep['repeat']} runs each", title_justify="left")
    table.add_column("shape N,C_in,C_out,H,k", no_wrap=True)
    for n in impls:
        table.add_column(n, justify="right")
    table.add_column("manual × floor", justify="right")
    for cells in rows:
        table.add_row(*cells)
    console.print(table)
    floors = list(dict.fromkeys(f for r in rep["results"] for f in r["impls"].get("manual", {}).get("ratio_to_floor", {})))
    if floors:
        console.print(f"[dim]manual × floor: its median over the GEMM floor ({', '.join(floors)}): the step's "
                      "products alone, timed in the same rounds[/dim]")
    console.print(f"machine: {m['cpu']}, {m['cores']} cores; NumPy 2048² matmul {rep['matmul_2048_gflops']:.0f} "
                  f"GFLOP/s; load average before/after {(m.get('load_average_before') or ['?'])[0]} / "
                  f"{(m.get('load_average_after') or ['?'])[0]}")
    busy = max((m.get("load_average_before") or [0])[0], (m.get("load_average_after") or [0])[0])
    if busy > 0.5 * m["cores"]:
        console.print(f"[yellow]the machine was busy[/yellow] (1-minute load {busy} on {m['cores']} cores): "
                      "ratios between multi- and single-threaded steps are distorted; rerun on an idle machine")
    for t in rep.get("targets") or ():
        console.print(f"target {t['shape']}: manual × {t['floor']} = {t['ratio']:.2f} (≤ {t['target']}: "
                      f"{'met' if t['met'] else 'NOT met'})")
    for c in (rep.get("startup") or {}).get("commands", ()):
        console.print(f"start-up `{' '.join(c['argv'][-2:])}`: median {c['median_s']:.2f} s"
                      + (f" (≤ {c['target']}: {'met' if c['met'] else 'NOT met'})" if "target" in c else ""))
    skipped = sum(len(r.get("skipped", {})) for r in rep["results"])
    if skipped:
        console.print(f"{skipped} implementation × shape skipped (listed in the report)")
    md = [p for p in paths if str(p).endswith(".md")]
    if md:
        others = ", ".join(str(p) for p in paths if p not in md)
        console.print(f"report: {md[0]} (every timing, floors, memory, notes)" + (f"; also {others}" if others else ""))
    else:
        console.print("no report written (--no-report); --json prints the whole report")
