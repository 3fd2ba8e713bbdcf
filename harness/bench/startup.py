"""`bench --startup`: cold start-up of the commands against the imports they cannot avoid.

Every command runs in a new Python process (the OS file cache is warm after the first round, as
it is for a person running the tool twice); rounds are interleaved like the step timings.
Targets (issue 11): verify on the seed ≤ 2× `import numpy`; check on the seed ≤ 1.3× `import torch, jax`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "seed.toml"

# name -> (argv after the interpreter, baseline name or None, target ratio)
COMMANDS = {
    "import numpy": (["-c", "import numpy"], None, None),
    "import torch, jax": (["-c", "import torch, jax"], None, None),
    "verify examples/seed.toml": (["-m", "harness", "verify", str(SEED)], "import numpy", 2.0),
    "check (seed, all implementations)": (["-m", "harness", "check", "--no-report"], "import torch, jax", 1.3),
    "check --impl exact (seed)": (["-m", "harness", "check", "--impl", "exact", "--no-report"], "import numpy", None),
    "explain seed": (["-m", "harness", "explain", "seed"], "import numpy", None),
}

# Which heavy frameworks a command imports (it must import none for verify / explain).
_PROBE = ("import sys; from harness.cli import main; rc = main(sys.argv[1:]); "
          "print('\\nIMPORTED', ','.join(m for m in ('torch', 'jax', 'matplotlib', 'rich') if m in sys.modules))")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _time(argv: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - t0, proc.returncode


def imported_by(args: list[str]) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=600)
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("IMPORTED"):
            return [m for m in line.split(" ", 1)[1].split(",") if m]
    return ["(probe failed)"]


def measure(repeat: int = 5) -> dict:
    commands = {name: spec for name, spec in COMMANDS.items() if "verify" not in name or SEED.exists()}
    for name, (argv, _, _) in commands.items():     # one untimed round: warms the file cache
        _time(argv)
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, int] = {}
    for _ in range(repeat):
        for name, (argv, _, _) in commands.items():
            s, codes[name] = _time(argv)
            seconds[name].append(s)
    rows = []
    for name, (argv, base, target) in commands.items():
        med = statistics.median(seconds[name])
        row = {"command": name, "argv": ["python", *argv[:2], *[Path(a).name if a == str(SEED) else a for a in argv[2:]]],
               "median_s": med, "min_s": min(seconds[name]), "max_s": max(seconds[name]), "exit_code": codes[name]}
        if base:
            ratio = med / statistics.median(seconds[base])
            row.update({"baseline": base, "ratio": ratio})
            if target:
                row.update({"target": target, "met": ratio <= target})
        rows.append(row)
    imports = {"verify": imported_by(["verify", str(SEED)]) if SEED.exists() else None,
               "explain": imported_by(["explain", "seed"]),
               "check --impl exact": imported_by(["check", "--impl", "exact", "--no-report"])}
    return {"repeat": repeat, "commands": rows, "heavy_imports": imports,
            "note": "each command in a fresh process; median of interleaved rounds after one warm-up round"}
