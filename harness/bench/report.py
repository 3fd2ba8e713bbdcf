"""Bench reports: JSON, Markdown and a PNG chart, each written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import write_atomic


def _ms(v: float) -> str:
    return f"{v:.3g}" if v < 10 else f"{v:.1f}"


def to_markdown(rep: dict) -> str:
    m = rep["machine"]
    v = m["versions"]
    lines = [f"# crossgrad bench — {rep['device']}, {rep['dtype']}", "",
             f"- CPU: **{m['cpu']}**, {m['cores']} cores; BLAS: "
             + ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
                         f"{b.get('num_threads')} threads)" for b in m["blas"] if "internal_api" in b),
             f"- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
             f"- NumPy 2048² {rep['dtype'] if rep['dtype'] in ('float32', 'float64') else 'float32'} matmul: "
             f"**{rep['matmul_2048_gflops']:.0f} GFLOP/s**",
             f"- {rep['repeat']} interleaved timed runs per implementation after 2 warm-up runs; "
             f"load average before/after: {m['load_average_before']} / {m.get('load_average_after')}",
             f"- created: {rep['created']}"]
    busy = max((m.get("load_average_before") or [0])[0], (m.get("load_average_after") or [0])[0])
    if busy > 0.5 * m["cores"]:
        lines.append(f"- **the machine was busy** (1-minute load {busy} on {m['cores']} cores, from other processes): "
                     "multi-threaded steps (torch's OpenMP, OpenBLAS's own threads) slow down far more than "
                     "single-threaded ones when a core is taken, so ratios between them are distorted; rerun on an idle machine")
    if m.get("gpu"):
        lines.append(f"- GPU: {json.dumps(m['gpu'])}")
    if m.get("env"):
        lines.append(f"- environment: {m['env']}")
    lines += ["", "One step = forward, loss, ∂L/∂Ŷ, ∂L/∂W, ∂L/∂x and the SGD update. GFLOP/s counts the step's "
              "three convolution-sized products (6·N·C_out·H_out²·C_in·k² flops).", "",
              "| shape (N,C_in,C_out,H,k) | impl | median ms | min–max ms | GFLOP/s | × torch | × floor | "
              "setup s | peak memory MiB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rep["results"]:
        for name, s in r["impls"].items():
            floors = ", ".join(f"{ratio:.2f} ({f})" for f, ratio in s["ratio_to_floor"].items())
            lines.append(f"| {r['shape']} | {name} | {_ms(s['median_ms'])} | {_ms(s['min_ms'])}–{_ms(s['max_ms'])} | "
                         f"{s['gflops']:.1f} | {s.get('ratio_to_torch', float('nan')):.2f} | {floors or '–'} | "
                         f"{s['setup_s']:.2f} | {s['memory'].get('peak_mib', 0):.1f} |")
        for name, s in r["floors"].items():
            lines.append(f"| {r['shape']} | *{name}* | {_ms(s['median_ms'])} | {_ms(s['min_ms'])}–{_ms(s['max_ms'])} | "
                         f"{s['gflops']:.1f} | | | "
                         f"{s.get('setup_s', 0):.2f} | |")
    lines += ["", "Floors (the step's products alone, timed in the same interleaved rounds): "
              "*gemm_floor_numpy* — the three im2col products for the whole batch, NumPy, BLAS's own threads; "
              "*gemm_floor_manual* — the same products as `manual` issues them (per block, its worker threads, "
              "single-threaded BLAS); *passes_manual* — manual's step with its products taken out (not a floor of "
              "products: everything else the step does); *gemm_floor_torch* — the products of `impls.formulas` through torch.matmul; "
              "*jax_conv_forward* — XLA's forward convolution alone (its GFLOP/s counts one convolution). Peak memory: tracemalloc for the NumPy "
              "paths (manual, exact); for the others the growth of the process's peak RSS during the first call "
              "(ru_maxrss, a lower bound: 0 when an earlier peak was higher).", ""]
    notes = {f"{r['shape']} {n}": s["note"] for r in rep["results"] for n, s in r["impls"].items() if s["note"]}
    skipped = {f"{r['shape']} {n}": why for r in rep["results"] for n, why in r["skipped"].items()}
    if rep.get("targets"):
        lines += ["## Targets", "", "| shape | floor | manual × floor (medians) | target | met | (minima) |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {t['shape']} | {t['floor']} | {t['ratio']:.2f} | ≤ {t['target']} | {'yes' if t['met'] else 'no'} | "
                  f"{t.get('ratio_of_minima', float('nan')):.2f} |" for t in rep["targets"]]
        lines.append("")
        parts = [(r["shape"], r["impls"]["manual"]) for r in rep["results"]
                 if "ratio_to_parts" in r["impls"].get("manual", {})]
        if parts:
            lines += ["What manual's step is made of (medians, same rounds): its products alone (*gemm_floor_manual*) "
                      "and the step with the products taken out (*passes_manual*: im2col, the loss's passes, col2im, "
                      "allocation, threads).", "",
                      "| shape | products ms | passes ms | passes / products | step ms | step / (products + passes) |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {shape} | {_ms(m['parts_ms']['products'])} | {_ms(m['parts_ms']['passes'])} | "
                      f"{m['parts_ms']['passes'] / m['parts_ms']['products']:.2f} | {_ms(m['median_ms'])} | "
                      f"{m['ratio_to_parts']:.2f} |" for shape, m in parts]
            lines.append("")
    if rep.get("startup"):
        st = rep["startup"]
        lines += ["## Start-up (cold processes)", "", "| command | median s | min–max s | × baseline | target | exit |",
                  "|---|---|---|---|---|---|"]
        for c in st["commands"]:
            ratio = f"{c['ratio']:.2f} ({c['baseline']})" if "ratio" in c else ""
            target = (f"≤ {c['target']} ({'met' if c['met'] else 'NOT met'})") if "target" in c else ""
            lines.append(f"| `{' '.join(c['argv'])}` | {c['median_s']:.2f} | {c['min_s']:.2f}–{c['max_s']:.2f} | "
                         f"{ratio} | {target} | {c['exit_code']} |")
        lines += ["", "Heavy modules imported: " + "; ".join(f"{k}: {', '.join(v) if v else 'none'}"
                                                                for k, v in st["heavy_imports"].items() if v is not None), ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {k}: {v}" for k, v in notes.items()] + [""]
    if skipped:
        lines += ["## Skipped", ""] + [f"- {k}: {v}" for k, v in skipped.items()] + [""]
    return "\n".join(lines)


def chart_png(rep: dict) -> bytes:
    """GFLOP/s of each implementation and floor per shape (grouped bars, log scale)."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = [r["shape"] for r in rep["results"]]
    series: dict[str, list[float]] = {}
    for i, r in enumerate(rep["results"]):
        rates = {n: s["gflops"] for n, s in r["impls"].items()}
        rates.update({n: s["gflops"] for n, s in r["floors"].items() if n.startswith("gemm_floor")})
        for name, rate in rates.items():
            series.setdefault(name, [float("nan")] * len(shapes))[i] = rate
    fig, ax = plt.subplots(figsize=(max(6.0, 1.9 * len(shapes)), 4.8), dpi=110)
    width = 0.8 / max(1, len(series))
    for j, (name, vals) in enumerate(series.items()):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(shapes))]
        ax.bar(xs, vals, width, label=name, hatch="//" if name.startswith("gemm_floor") else None,
               edgecolor="black", linewidth=0.4)
    ax.set_xticks(range(len(shapes)), shapes)
    ax.set_yscale("log")
    ax.set_ylabel("GFLOP/s (step's 3 products)")
    ax.set_xlabel("shape (N, C_in, C_out, H, k)")
    ax.set_title(f"crossgrad bench: one SGD step, {rep['dtype']}, {rep['device']} — {rep['machine']['cpu']}", fontsize=9)
    ax.axhline(rep["matmul_2048_gflops"], color="grey", linestyle="--", linewidth=0.8)
    ax.text(-0.45, rep["matmul_2048_gflops"] * 0.92, "NumPy 2048² matmul", va="top", ha="left", fontsize=7, color="grey")
    ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write(rep: dict, out_dir: Path, stem: str = "bench") -> list[Path]:
    out_dir = Path(out_dir)
    return [write_atomic(out_dir / f"{stem}.json", json.dumps(rep, indent=2) + "\n"),
            write_atomic(out_dir / f"{stem}.md", to_markdown(rep)),
            write_atomic(out_dir / f"{stem}.png", chart_png(rep))]
