"""What a sweep found: mismatches grouped by cause, rerun commands, JSON + Markdown, the terminal table."""

from __future__ import annotations

import datetime as _dt
import json
import shlex
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_atomic
from ..problem import QUANTITIES
from .draw import DEFAULT_MAX_SIZE, FAMILY_SIZE, describe_problem, features, geometry_of
from .run import CRASHED, SKIPS, CaseResult, SweepResult, skip_kind, time_split

ORDER = {q: i for i, q in enumerate(QUANTITIES + ("error",))}


def program() -> str:
    """How to call crossgrad here: the installed script, else the module from this checkout."""
    return "crossgrad" if shutil.which("crossgrad") else "python -m harness"


def _common(settings, impl: str) -> list[str]:
    args = ["--impl", impl, "--dtype", settings.dtype]
    if settings.device != "cpu":
        args += ["--device", settings.device]
    if settings.precision != "highest":
        args += ["--precision", settings.precision]
    return args


def rerun_case(settings, index: int, impl: str, out_dir: str) -> str:
    """Redraws configuration `index` exactly (draws depend on seed, index and max-size only). One that
    crashed its worker reruns with every implementation of the sweep (which one crashed is unknown)."""
    impl = ",".join(settings.impls) if impl == CRASHED else impl
    args = ["sweep", "--seed", str(settings.seed), "--only", str(index), *_common(settings, impl)]
    if settings.max_size != DEFAULT_MAX_SIZE:
        args += ["--max-size", str(settings.max_size)]
    args += ["--out", out_dir]
    return f"{program()} {shlex.join(args)}"


def rerun_file(settings, path: Path, impl: str, out_dir: str) -> str:
    return f"{program()} {shlex.join(['check', str(path), *_common(settings, impl), '--out', out_dir])}"


@dataclass(frozen=True)
class Group:
    """Every failure of one implementation on one quantity: one cause, usually."""

    impl: str
    quantity: str
    cases: tuple[CaseResult, ...]

    @property
    def common_features(self) -> tuple[str, ...]:
        """The features every failing configuration has (the suspects)."""
        sets = [set(c.case.features()) for c in self.cases]
        first = self.cases[0].case.features()
        return tuple(f for f in first if all(f in s for s in sets))

    @property
    def smallest(self) -> CaseResult:
        return min(self.cases, key=lambda c: (c.case.geometry.multiply_adds, c.case.values.steps, c.case.index))

    def example(self) -> str:
        c = self.smallest
        if self.quantity == "error":
            return c.errors[self.impl]
        m = next(m for m in c.mismatches if m.impl == self.impl and m.quantity == self.quantity)
        return m.describe()


def groups(result: SweepResult) -> list[Group]:
    by: dict[tuple[str, str], list[CaseResult]] = {}
    for c in result.failures:
        for key in c.failing():
            by.setdefault(key, []).append(c)
    keys = sorted(by, key=lambda k: (k[0], ORDER.get(k[1], 99)))
    return [Group(i, q, tuple(by[(i, q)])) for i, q in keys]


def coverage(result: SweepResult) -> dict[str, int]:
    return dict(Counter(f for c in result.cases for f in c.case.features()).most_common())


def headroom(result: SweepResult) -> dict[str, dict[str, float]]:
    """impl -> quantity -> the largest |error| / allowed seen (< 1 passes)."""
    out: dict[str, dict[str, float]] = {}
    for c in result.cases:
        for (impl, q), r in c.headroom.items():
            row = out.setdefault(impl, {})
            row[q] = max(row.get(q, 0.0), r)
    return {i: dict(sorted(row.items(), key=lambda kv: ORDER[kv[0]])) for i, row in out.items()}


def stem(settings) -> str:
    base = f"sweep-{settings.device.replace(':', '')}-{settings.dtype}"
    if settings.precision != "highest":
        base += f"-{settings.precision}"
    if settings.only is not None:
        base += "-only-" + "-".join(map(str, settings.only[:5]))
    return base


def write_case_files(result: SweepResult, out_dir: Path) -> dict[tuple[str, str], Path]:
    """Each shrunk failure as a TOML case file (for `crossgrad check`)."""
    from .casefile import to_toml
    paths, written = {}, {}
    s = result.settings
    for (impl, q), shrunk in result.shrunk.items():
        if id(shrunk) in written:            # one shrunk case showing several failing quantities: one file
            paths[(impl, q)] = written[id(shrunk)]
            continue
        path = out_dir / f"{stem(s)}-s{s.seed}-{impl}-{q}.toml"
        failing = sorted({m.quantity for m in shrunk.outcome.mismatches if m.impl == impl}, key=ORDER.get) or [q]
        comments = (f"smallest configuration found on which {impl} disagrees with the exact reference on "
                    f"{', '.join(failing)}",
                    f"(crossgrad sweep --seed {s.seed}, configuration {shrunk.original.index}, {s.dtype}, "
                    f"{s.device}; {shrunk.evaluations} reductions tried)")
        paths[(impl, q)] = written[id(shrunk)] = write_atomic(path, to_toml(shrunk.problem, comments))
    return paths


def command(settings, out_dir: str) -> str:
    """The command that reproduces this sweep."""
    args = ["sweep"] + (["--only", ",".join(map(str, settings.only))] if settings.only is not None
                        else ["--count", str(settings.count)])
    args += ["--seed", str(settings.seed), "--dtype", settings.dtype]
    if settings.device != "cpu":
        args += ["--device", settings.device]
    if settings.precision != "highest":
        args += ["--precision", settings.precision]
    if settings.impl_named:
        args += ["--impl", ",".join(settings.impls)]
    if settings.max_size != DEFAULT_MAX_SIZE:
        args += ["--max-size", str(settings.max_size)]
    return f"{program()} {shlex.join(args + ['--out', out_dir])}"


def to_dict(result: SweepResult, case_files: dict | None = None, out_dir: str = "reports") -> dict:
    s = result.settings
    case_files = case_files or {}
    gs = []
    for g in groups(result):
        entry = {"impl": g.impl, "quantity": g.quantity, "configurations": len(g.cases),
                 "indices": [c.case.index for c in g.cases][:100],
                 "common_features": list(g.common_features), "example": g.example(),
                 "smallest_drawn": {"index": g.smallest.case.index, "configuration": g.smallest.case.describe(),
                                    "rerun": rerun_case(s, g.smallest.case.index, g.impl, out_dir)}}
        shrunk = result.shrunk.get((g.impl, g.quantity))
        if shrunk is not None:
            path = case_files.get((g.impl, g.quantity))
            p = shrunk.problem
            entry["shrunk"] = {
                "configuration": describe_problem(p),
                "features": list(features(geometry_of(p), steps=p.steps)),
                "shapes": {"input": list(p.x.shape), "filter": list(p.w.shape), "output": list(p.out_shape)},
                "evaluations": shrunk.evaluations, "seconds": round(shrunk.seconds, 3),
                "local_minimum": shrunk.complete,
                "mismatches": [m.describe() for m in shrunk.outcome.mismatches if m.impl == g.impl][:10]
                + [f"{i}: {e}" for i, e in shrunk.outcome.errors.items()],
                "case_file": None if path is None else str(path),
                "rerun": None if path is None else rerun_file(s, path, g.impl, out_dir)}
        gs.append(entry)
    split = time_split(result)
    from .. import devices
    return {
        "command": command(s, out_dir),
        "settings": {"seed": s.seed, "count": s.count, "only": None if s.only is None else list(s.only),
                     "dtype": s.dtype, "device": s.device, "precision": s.precision, "impls": list(s.impls),
                     "max_size": s.max_size, "family_size": FAMILY_SIZE},
        "configurations_run": result.ran, "configurations_requested": len(s.indices()),
        "interrupted": result.interrupted, "seconds": round(result.seconds, 3),
        "configurations_per_second": round(result.rate, 2),
        "agree": not result.failures,
        "failing_configurations": len(result.failures),
        "mismatch_groups": gs,
        "time_split_seconds": {k: round(v, 3) for k, v in split.items()},
        "unavailable": dict(result.unavailable),
        "skipped": [{"index": c.case.index, "reason": c.skipped} for c in result.cases if c.skipped],
        "skipped_by_kind": dict(Counter(skip_kind(c.skipped) for c in result.cases if c.skipped)),
        "headroom": {i: {q: float(f"{r:.3g}") for q, r in row.items()} for i, row in headroom(result).items()},
        "coverage": coverage(result),
        "tolerance": TOLERANCE_NOTE,
        "versions": devices.versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


TOLERANCE_NOTE = ("entry accepted when |observed − exact| ≤ 4·γₙ·M + rtol·|exact|, γₙ = n·u/(1 − n·u), u the "
                  "dtype's unit roundoff, M the quantity computed on absolute values with the dtype's smallest "
                  "normal number λ added to each input and product stage (underflow: fl(a·b) = ab(1+δ) + η, "
                  "|η| ≤ u·λ), n the reduction length "
                  "(C_in/g·kh·kw for the output, N·H_out·W_out more for ∂L/∂W and ∂L/∂b, C_out/g·kh·kw more "
                  "for ∂L/∂x), accumulated over the SGD steps (harness/tolerance.py); exact: equality; "
                  "fd: 1e-6·(|exact| + M)")


def verdict(d: dict) -> str:
    if not d["agree"]:
        return f"{d['failing_configurations']} configuration(s) with mismatches"
    compared = d["configurations_run"] - len(d["skipped"])
    skipped = f" ({len(d['skipped'])} skipped)" if d["skipped"] else ""
    return f"all implementations agree with the exact reference on all {compared} configurations compared{skipped}"


def to_markdown(d: dict) -> str:
    s = d["settings"]
    verdict_line = f"**{verdict(d)}**"
    lines = [f"# crossgrad sweep · {s['device']} · {s['dtype']}", "",
             f"- command: `{d['command']}`",
             f"- configurations: {d['configurations_run']} of {d['configurations_requested']}"
             + (" (**interrupted**)" if d["interrupted"] else "")
             + f" in {d['seconds']:.1f} s = **{d['configurations_per_second']:.1f} configurations/s**",
             f"- seed {s['seed']}, max size {s['max_size']} multiply-adds, families of {s['family_size']} "
             f"value sets per geometry; implementations: {', '.join(s['impls'])}",
             f"- verdict: {verdict_line}",
             f"- created: {d['created']}", ""]
    if d["unavailable"]:
        lines += ["## Unavailable", ""] + [f"- {n}: {r}" for n, r in d["unavailable"].items()] + [""]
    if d["mismatch_groups"]:
        lines += ["## Mismatches by cause", "",
                  "| implementation | quantity | configurations | features all of them have | smallest found |",
                  "|---|---|---|---|---|"]
        for g in d["mismatch_groups"]:
            small = g.get("shrunk", {}).get("configuration", g["smallest_drawn"]["configuration"])
            lines.append(f"| {g['impl']} | {g['quantity']} | {g['configurations']} | "
                         f"{', '.join(g['common_features'])} | {small} |")
        lines.append("")
        for g in d["mismatch_groups"]:
            lines += [f"### {g['impl']} · {g['quantity']}", "", f"- e.g. {g['example']}",
                      f"- rerun the smallest drawn configuration (#{g['smallest_drawn']['index']}): "
                      f"`{g['smallest_drawn']['rerun']}`"]
            if "shrunk" in g:
                sh = g["shrunk"]
                lines += [f"- shrunk in {sh['evaluations']} steps to: {sh['configuration']}; shapes {sh['shapes']}"
                          + ("" if sh["local_minimum"] else " (budget spent before a local minimum)")]
                if sh["rerun"]:
                    lines.append(f"- rerun it: `{sh['rerun']}`")
                lines += [f"  - {m}" for m in sh["mismatches"][:5]]
            lines.append("")
    lines += ["## Time per implementation", "", "| part | seconds | share |", "|---|---|---|"]
    total = sum(d["time_split_seconds"].values()) or 1.0
    lines += [f"| {k} | {v:.2f} | {100 * v / total:.0f}% |" for k, v in d["time_split_seconds"].items()]
    lines += ["", "Parts: `warm-up` one untimed first call of every implementation (imports, one-time set-up); "
              "each implementation's own runs (jax includes its compilations, one per family of "
              "shapes); `exact` is the reference, computed once per configuration and shared; `tolerance` the "
              "magnitudes behind the bound; `compare` the comparisons; `draw` building the exact problem.", ""]
    if d["headroom"]:
        qs = [q for q in QUANTITIES if any(q in row for row in d["headroom"].values())]
        lines += ["## Largest error relative to the tolerance", "",
                  "max over all configurations of |observed − exact| / allowed (a pass is < 1; a planted "
                  "error of one term shows as ≫ 1).", "",
                  "| implementation | " + " | ".join(qs) + " |", "|---|" + "---|" * len(qs)]
        for impl, row in d["headroom"].items():
            lines.append(f"| {impl} | " + " | ".join(f"{row[q]:.2g}" if q in row else "—" for q in qs) + " |")
        lines.append("")
    lines += ["## Tolerance", "", d["tolerance"], ""]
    if d["skipped"]:
        lines += ["## Skipped", "", skipped_line(d, s["dtype"]) + ":", ""]
        lines += [f"- #{x['index']}: {x['reason']}" for x in d["skipped"][:50]] + [""]
    lines += ["## Coverage (configurations with each feature)", "", "| feature | configurations |", "|---|---|"]
    lines += [f"| {f} | {n} |" for f, n in d["coverage"].items()]
    lines += ["", "## Versions", "", "```json", json.dumps(d["versions"], indent=2), "```", ""]
    return "\n".join(lines)


def write(d: dict, out_dir: Path, name: str) -> tuple[Path, Path]:
    j = write_atomic(Path(out_dir) / f"{name}.json", json.dumps(d, indent=2, ensure_ascii=False) + "\n")
    m = write_atomic(Path(out_dir) / f"{name}.md", to_markdown(d))
    return j, m


def skipped_line(d: dict, dtype: str) -> str:
    """'skipped 5 configuration(s): 3 at a ReLU kink, 2 beyond float16's finite range'."""
    kinds = d.get("skipped_by_kind") or {}
    parts = [f"{n} {SKIPS.get(k, k).format(dtype=dtype)}" for k, n in kinds.items()]
    return f"skipped {len(d['skipped'])} configuration(s): " + ", ".join(parts)


def render(d: dict, paths=(), file=None) -> None:
    """The summary on the terminal: totals, time split, one row per mismatch group, rerun commands."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=True)
    s = d["settings"]
    head = (f"crossgrad sweep · seed {s['seed']} · {s['device']} · {s['dtype']}: {d['configurations_run']} "
            f"configurations in {d['seconds']:.1f} s ({d['configurations_per_second']:.1f}/s)")
    console.print(head + (" — interrupted, partial summary" if d["interrupted"] else ""))
    console.print("time per part (s): " + ", ".join(f"{k} {v:.2f}" for k, v in d["time_split_seconds"].items()))
    for name, reason in d["unavailable"].items():
        console.print(f"{name}: unavailable: {reason}")
    if d["skipped"]:
        console.print(skipped_line(d, s["dtype"]) + (" (see the report)" if paths else ""))
    if d["mismatch_groups"]:
        t = Table(title="mismatches by cause", title_justify="left")
        for col in ("impl", "quantity", "configs", "features all have", "smallest found"):
            t.add_column(col, overflow="fold")
        for g in d["mismatch_groups"]:
            small = g.get("shrunk", {}).get("configuration", g["smallest_drawn"]["configuration"])
            t.add_row(g["impl"], g["quantity"], str(g["configurations"]), ", ".join(g["common_features"]), small)
        console.print(t)
        for g in d["mismatch_groups"]:
            console.print(f"{g['impl']} · {g['quantity']}: {g['example']}")
            console.print(f"  rerun #{g['smallest_drawn']['index']}: {g['smallest_drawn']['rerun']}", markup=False)
            sh = g.get("shrunk")
            if sh and sh["rerun"]:
                console.print(f"  smallest ({sh['shapes']['input']} input, {sh['shapes']['filter']} filter): "
                              f"{sh['rerun']}", markup=False)
    console.print(verdict(d))
    for p in paths:
        console.print(f"report: {p}", markup=False)
