"""`crossgrad bench`: how fast is one SGD step in each implementation, and how far from its limit?

For each shape (N, C_in, C_out, H, k; float32 by default) and implementation: median / min / max
wall time of one step (forward, loss, ∂L/∂Ŷ, ∂L/∂W, ∂L/∂x, update) after warm-up, GFLOP/s (the
step's three convolution-sized products, 6·N·C_out·H_out²·C_in·k² flops), the ratio to torch's
autograd step, and the ratio to each GEMM floor — the step's products alone, timed in the same run:

- `gemm_floor_numpy`: the three im2col products for the whole batch in NumPy with its own BLAS threads
  (W·cols, cols·δᵀ, Wᵀ·δ): the issue's floor for a hand-written NumPy backward;
- `gemm_floor_manual`: the same products exactly as `manual` issues them (per block, on its worker
  threads): manual's step minus everything around the products;
- `passes_manual`: manual's step with the products taken out (im2col, the loss's passes, col2im,
  allocation, threads): with `gemm_floor_manual`, the two parts the step is made of;
- `gemm_floor_torch`: the products `impls.formulas` issues, through torch.matmul (array_api's floor);
- `jax_conv_forward`: XLA's forward convolution alone (a jax step is about three of these).

All timed callables are interleaved (A B C … A B C …) so that load from other processes hits them alike,
except `gemm_floor_numpy`, timed alone after the others and followed by a pause: after NumPy's BLAS
has run multi-threaded, products issued from two threads at once ran 2× slower for up to ~0.5 s here
(OpenBLAS 0.3.31; measured on `gemm_floor_manual`), which would slow whatever came next in a round.
"""

from __future__ import annotations

import datetime as _dt
from typing import Callable

from . import machine, runners, timing
from .shapes import Shape, make_case

# implementation -> the floors its ratio is reported against
FLOOR_OF = {"manual": ("gemm_floor_numpy", "gemm_floor_manual"), "array_api": ("gemm_floor_torch",),
            "jax": ("jax_conv_forward",)}
BLAS_THREADED = ("gemm_floor_numpy",)   # timed apart (see above)
TARGET_MANUAL = 1.15          # manual step ≤ 1.15× its GEMM floor (issue 11), on the big shapes in float32


def bench_shape(shape: Shape, impls: tuple[str, ...], device: str, dtype: str, repeat: int,
                log: Callable[[str], None] = lambda s: None) -> dict:
    case = make_case(shape, dtype)
    made: dict[str, runners.Runner] = {}
    skipped: dict[str, str] = {}
    for name in impls:
        try:
            made[name] = runners.MAKERS[name](case, device)
        except runners.Skip as exc:
            skipped[name] = str(exc)
        except ImportError as exc:
            skipped[name] = f"unavailable: {exc}"
    for name, r in made.items():          # first call: peak memory (and jax's first run after compiling)
        r.memory = timing.tracemalloc_peak(r.step) if name in ("manual", "exact") else timing.rss_growth(r.step)
    floors: dict[str, Callable[[], object]] = {}
    if device == "cpu" and dtype in ("float32", "float64"):
        floors["gemm_floor_numpy"] = runners.numpy_floor(case)
    if "manual" in made:
        floors["gemm_floor_manual"] = runners.manual_blocked_floor(case)
        floors["passes_manual"] = runners.manual_passes(case)
    if "array_api" in made:
        floors["gemm_floor_torch"] = runners.torch_floor(case, device)
    floor_setup = {}
    if "jax" in made:
        floors["jax_conv_forward"], floor_setup["jax_conv_forward"] = runners.jax_conv_alone(case, device)
    log(f"{shape.label} {dtype}: timing {', '.join([*made, *floors])} × {repeat}")
    alone = {n: floors.pop(n) for n in BLAS_THREADED if n in floors}
    times = timing.interleaved({**{n: r.step for n, r in made.items()}, **floors}, repeat)
    for name, fn in alone.items():
        times.update(timing.interleaved({name: fn}, repeat))
        timing.settle()
    floors.update(alone)
    out_impls = {}
    for name, r in made.items():
        s = timing.summary(times[name])
        s["gflops"] = shape.step_flops / (s["median_ms"] / 1e3) / 1e9
        s.update({"setup_s": r.setup_seconds, "note": r.note, "memory": r.memory})
        out_impls[name] = s
    out_floors = {name: timing.summary(times[name]) for name in floors}
    for name, s in out_floors.items():     # the floors are the step's three products; the jax one is one of them
        s["gflop"] = 0.0 if name == "passes_manual" else shape.step_flops / 1e9 / (3 if name == "jax_conv_forward" else 1)
        s["gflops"] = s["gflop"] / (s["median_ms"] / 1e3)
    for name, seconds in floor_setup.items():
        out_floors[name]["setup_s"] = seconds
    for name, s in out_impls.items():
        if "torch" in out_impls:
            s["ratio_to_torch"] = s["median_ms"] / out_impls["torch"]["median_ms"]
        s["ratio_to_floor"] = {f: s["median_ms"] / out_floors[f]["median_ms"]
                               for f in FLOOR_OF.get(name, ()) if f in out_floors}
        # min / min: on a shared machine the fastest run of each is the one least disturbed
        s["ratio_to_floor_of_minima"] = {f: s["min_ms"] / out_floors[f]["min_ms"] for f in s["ratio_to_floor"]}
    if {"gemm_floor_manual", "passes_manual"} <= out_floors.keys():
        parts = out_floors["gemm_floor_manual"]["median_ms"] + out_floors["passes_manual"]["median_ms"]
        out_impls["manual"]["parts_ms"] = {"products": out_floors["gemm_floor_manual"]["median_ms"],
                                           "passes": out_floors["passes_manual"]["median_ms"]}
        out_impls["manual"]["ratio_to_parts"] = out_impls["manual"]["median_ms"] / parts
    return {"shape": shape.label, "load_average": machine._load(),
            "dims": [shape.n, shape.c_in, shape.c_out, shape.h, shape.k], "dtype": dtype,
            "macs": shape.macs, "step_gflop": shape.step_flops / 1e9, "gemms": shape.gemm_dims(),
            "impls": out_impls, "floors": out_floors, "skipped": skipped}


def targets(results: list[dict]) -> list[dict]:
    """issue 11's manual-vs-floor target on the three big shapes, float32."""
    big = {"(32,16,32,32,3)", "(32,64,64,32,3)", "(16,64,64,56,3)"}
    rows = []
    for r in results:
        m = r["impls"].get("manual")
        if r["shape"] in big and r["dtype"] == "float32" and m:
            for floor, ratio in m["ratio_to_floor"].items():
                rows.append({"shape": r["shape"], "floor": floor, "ratio": ratio,
                             "ratio_of_minima": m["ratio_to_floor_of_minima"][floor], "target": TARGET_MANUAL,
                             "met": ratio <= TARGET_MANUAL})
    return rows


def run_bench(shapes: list[Shape], impls: tuple[str, ...], device: str, dtype: str, repeat: int,
              startup: bool = False, log: Callable[[str], None] = lambda s: None) -> dict:
    report = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "device": device, "dtype": dtype, "repeat": repeat, "impls": list(impls),
              "machine": machine.describe(device)}
    log("2048² matmul …")
    report["matmul_2048_gflops"] = machine.matmul_gflops(2048, dtype if dtype in ("float32", "float64") else "float32")
    timing.settle()
    report["results"] = [bench_shape(s, impls, device, dtype, repeat, log) for s in shapes]
    report["targets"] = targets(report["results"])
    if startup:
        from . import startup as st
        log("start-up (fresh processes) …")
        report["startup"] = st.measure()
    report["machine"]["load_average_after"] = machine._load()
    return report
