"""Issue 21's measurement: `crossgrad sweep --workers N` against the serial sweep, same command, same machine.

    python scripts/sweep_workers.py [--count 400] [--seed 3] [--workers 2] [--rounds 1] [--out results]

Each round runs the serial sweep and the one on N workers back to back (alternating which goes first,
so a change in the machine's load between them shows across rounds), each as its own process
(`python -m harness sweep … --json`), timed from start to exit: imports, starting the cluster and closing
it are part of the --workers time. Checks the two reports are equal apart from timings, and writes
results/sweep-workers-cpu-float64.json and .md: the times, their ratio, the load average, the rate per
worker (configurations / (sweep seconds · N), start-up excluded) and what a 10⁶-configuration sweep needs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from harness.atomic import write_atomic  # noqa: E402

TIMINGS = {"seconds", "configurations_per_second", "time_split_seconds", "created", "command"}


def timed(argv: list[str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness", *argv], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv}: exit {proc.returncode}: {proc.stderr[-500:]}")
    return seconds, json.loads(proc.stdout)


def wait_idle(below: float, most: float) -> float:
    """Wait (up to `most` s) for the 1-minute load average to fall below `below`: other sessions share this
    machine, and a busy core halves a worker. The load average when it starts."""
    t0 = time.monotonic()
    while os.getloadavg()[0] >= below and time.monotonic() - t0 < most:
        time.sleep(5)
    return os.getloadavg()[0]


def comparable(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in TIMINGS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default="results")
    ap.add_argument("--idle-below", type=float, default=0.7, help="wait for a 1-min load average below this")
    ap.add_argument("--idle-wait", type=float, default=0, help="…for at most this many seconds per run (0: no wait)")
    a = ap.parse_args()
    base = ["sweep", "--count", str(a.count), "--seed", str(a.seed), "--json", "--no-report"]
    rounds = []
    for r in range(a.rounds):
        order = ("serial", "workers") if r % 2 == 0 else ("workers", "serial")
        got = {}
        for kind in order:
            load = wait_idle(a.idle_below, a.idle_wait)
            argv = base + (["--workers", str(a.workers)] if kind == "workers" else [])
            seconds, report = timed(argv)
            got[kind] = {"wall_seconds": round(seconds, 2), "sweep_seconds": report["seconds"],
                         "load_before": round(load, 2), "report": report}
        equal = comparable(got["serial"]["report"]) == comparable(got["workers"]["report"])
        ratio = got["workers"]["wall_seconds"] / got["serial"]["wall_seconds"]
        rounds.append({"order": list(order), "equal": equal, "ratio": round(ratio, 3),
                       **{k: {x: v for x, v in g.items() if x != "report"} for k, g in got.items()}})
        print(f"round {r + 1}: serial {got['serial']['wall_seconds']} s, {a.workers} workers "
              f"{got['workers']['wall_seconds']} s, ratio {ratio:.2f}, reports equal: {equal}", file=sys.stderr)
    w = rounds[-1]["workers"]
    per_worker = a.count / (w["sweep_seconds"] * a.workers)
    data = {"command": f"python scripts/sweep_workers.py --count {a.count} --seed {a.seed} --workers {a.workers} "
                       f"--rounds {a.rounds} --idle-wait {a.idle_wait:g}",
            "count": a.count, "seed": a.seed, "workers": a.workers, "cpus": os.cpu_count(), "rounds": rounds,
            "best_ratio": min(r["ratio"] for r in rounds), "all_equal": all(r["equal"] for r in rounds),
            "configurations_per_second_per_worker": round(per_worker, 2),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out = Path(a.out)
    write_atomic(out / "sweep-workers-cpu-float64.json", json.dumps(data, indent=2) + "\n")
    lines = [f"# crossgrad sweep --workers {a.workers} against serial · cpu · float64", "",
             f"- command: `{data['command']}` ({os.cpu_count()} CPUs here)",
             f"- each: `python -m harness sweep --count {a.count} --seed {a.seed} --json --no-report` "
             f"[`--workers {a.workers}`], its own process, timed start to exit", "",
             "| round | first | serial (s) | workers (s) | ratio | load avg before (serial / workers) | reports equal |",
             "|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rounds, 1):
        lines.append(f"| {i} | {r['order'][0]} | {r['serial']['wall_seconds']} | {r['workers']['wall_seconds']} | "
                     f"{r['ratio']} | {r['serial']['load_before']} / {r['workers']['load_before']} | {r['equal']} |")
    lines += ["", f"Rate per worker (last round, start-up excluded): **{per_worker:.1f} configurations/s**.",
              f"Created {data['created']}.", ""]
    write_atomic(out / "sweep-workers-cpu-float64.md", "\n".join(lines))
    return 0 if data["all_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
